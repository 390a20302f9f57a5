"""Enrolling a kiosk with real parts: HQ's app over HTTPS (its certificate pinned by the
kiosk), a TLS Mosquitto with the generated passwords and ACL, the real `kiosk enrol`
command. Staff approve the code the kiosk shows; the kiosk writes its settings and connects
with its own login. An unapproved, expired, guessed or collected code yields nothing."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import ImageGrab
from playwright.sync_api import expect, sync_playwright

from backend_sync import KioskLink, Outbox
from hq import ApiKeys, ApiServer, BrokerSecurity, FleetView, Grant, KeyRole, KioskProvisioner, ProfileStore, create_app
from hq._enrolment import Enrolments, enrolments
from hq.exceptions import ApiRefusal
from kiosk_app._enrol import EnrolmentFailed, enrol
from kiosk_app.demo import free_port
from kiosk_app.ui import theme
from kiosk_protocol import LinkState
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually, wait_for_port

STORE, KIOSK = "madrid-centro", "kiosk-07"
KEYS = {"hq": "hq-key-0123456789abcdef0", "barcelona-staff": "barcelona-key-0123456789"}
AS_HQ = {"X-Api-Key": KEYS["hq"]}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
expect.set_options(timeout=20_000)


@dataclass
class Hq:
    url: str
    pinned: Path  # what the kiosk's install trusts: the CA of HQ's certificate
    store: ProfileStore
    fleet: FleetView
    broker: Mosquitto

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=self.pinned), timeout=20)


@pytest.fixture
def hq(tmp_path: Path, sqlite_url: str, hq_key: tuple[object, Path]) -> Iterator[Hq]:
    broker_dir = tmp_path / "broker"
    security = BrokerSecurity(broker_dir)
    security.init("Madrid Centro", ["127.0.0.1"])
    fleet_login = security.provision_service("hq-fleet")
    broker = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    broker.start()
    tls = BrokerSecurity(tmp_path / "hq-tls")  # HQ's own web certificate, from a CA of its own
    tls.init("HQ", ["127.0.0.1"])
    store = ProfileStore(sqlite_url)
    fleet = FleetView(fleet_login.broker_url("127.0.0.1", broker.port, security.ca_cert))
    fleet.start()
    assert fleet.subscribed.wait(10)
    provisioner = KioskProvisioner(broker_dir, "127.0.0.1", broker.port, hq_key[1].read_text(),
                                   "https://hq.example.com/files", reload=broker.reload)
    keys = ApiKeys(KEYS, grants={"barcelona-staff": Grant(KeyRole.STORE, "barcelona-diagonal")})
    server = ApiServer(create_app(store, keys, fleet=fleet, enrolment=provisioner), port=free_port(),
                       tls=(tls.server_cert, tls.server_key))
    server.start()
    yield Hq(server.url, tls.ca_cert, store, fleet, broker)
    server.stop()
    fleet.stop()
    store.close()
    broker.stop()


def test_a_kiosk_shows_a_code_staff_approve_it_and_it_joins_the_fleet_with_its_own_login(
        hq: Hq, tmp_path: Path, xvfb_display: str) -> None:
    settings = tmp_path / "etc-kiosk"
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk_app", "enrol", "--hq", hq.url, "--hq-cert", str(hq.pinned),
                              "--settings-dir", str(settings), "--poll", "0.1", "--window"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "DISPLAY": xvfb_display})
    assert kiosk.stdout is not None
    shown = next(line for line in kiosk.stdout if line.startswith("Enrolment code: "))  # drawn on its screen
    code = shown.split()[2]
    screen = ImageGrab.grab(xdisplay=xvfb_display).convert("RGB")
    accent = tuple(round(channel * 255) for channel in theme.STANDARD["ACCENT"][:3])
    screen.save((SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / "kiosk-enrol.png")
    code_pixels = sum(1 for pixel in screen.getdata() if pixel == accent)
    assert code_pixels > 20_000, code_pixels  # the code, 150 px high in the accent colour

    with sync_playwright() as playwright:  # staff approve it on the dashboard
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The staff's browser is not what is under test: HQ's test certificate is from a CA of the test's own.
            page = browser.new_page(viewport={"width": 1360, "height": 900}, ignore_https_errors=True)
            page.goto(f"{hq.url}/fleet/")
            sign_in(page, KEYS["hq"])
            form = page.locator("#enrol-form")
            form.get_by_label("Code").fill(code.lower())
            form.get_by_label("Store").fill(STORE)
            form.get_by_label("Kiosk id").fill(KIOSK)
            form.get_by_role("button", name="Approve").click()
            expect(page.locator("#enrol-result")).to_have_text(
                f"Approved: the kiosk joins as {STORE} · {KIOSK} within seconds.")
            shots = SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path
            page.locator("#enrol").screenshot(path=str(shots / "dashboard-enrol.png"))
        finally:
            browser.close()
    output = "".join(kiosk.stdout)
    assert kiosk.wait(30) == 0, output
    assert f"enrolled as {STORE}/{KIOSK}" in output
    [enrolment] = _enrolments(hq)
    assert hq.store.enrolments.state_of(enrolment) == {"state": "collected", "store": STORE, "kiosk": KIOSK,
                                                       "holds_settings": False}  # no password kept at HQ
    with hq.api() as api:
        again = api.post("/fleet/api/enrolments", headers=AS_HQ, json={"code": code, "store": STORE, "kiosk": "x-1"})
        assert again.status_code == 409
    assert (settings / "enrolled.env").read_text() == (
        f"KIOSK_STORE={STORE}\nKIOSK_ID={KIOSK}\nKIOSK_FILES_URL=https://hq.example.com/files\n")
    assert (settings / "hq_public_key.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    broker_url = (settings / "broker.url").read_text().strip()
    assert (settings / "broker.url").stat().st_mode & 0o777 == 0o600
    assert broker_url.startswith(f"mqtts://{STORE}.{KIOSK}:") and broker_url.endswith(f"?ca={settings}/broker-ca.crt")

    link = KioskLink(broker_url, STORE, KIOSK, Outbox(tmp_path / "outbox.sqlite"))
    link.start()
    try:
        assert link.subscribed.wait(20)  # its login works: the broker read its new password file
        assert eventually(lambda: (view := hq.fleet.kiosk(STORE, KIOSK)) is not None
                          and view.status.state is LinkState.ONLINE)
    finally:
        link.stop()


def _enrolments(hq: Hq) -> list[str]:
    with hq.store.engine.connect() as db:
        return list(db.execute(sa.select(enrolments.c.id)).scalars())


def test_an_unapproved_code_never_yields_a_login_and_guessing_tokens_or_codes_is_refused(hq: Hq) -> None:
    with hq.api() as api:
        begun = api.post("/v1/enrolments")
        assert begun.status_code == 201
        new = begun.json()
        for _ in range(3):
            waiting = api.get(f"/v1/enrolments/{new['enrolment']}", headers={"Authorization": f"Bearer {new['token']}"})
            assert (waiting.status_code, waiting.json()) == (202, {"state": "pending"})
        for token in ("", "Bearer", "Bearer guessed-token", f"Basic {new['token']}"):
            refused = api.get(f"/v1/enrolments/{new['enrolment']}", headers={"Authorization": token})
            assert refused.status_code == 404 and "broker_url" not in refused.text
        # Someone who saw the code on the screen still has no token: it is the kiosk's alone.
        assert new["code"] not in api.get(f"/v1/enrolments/{new['enrolment']}").text

        barcelona = api.post("/fleet/api/enrolments", headers={"X-Api-Key": KEYS["barcelona-staff"]},
                             json={"code": new["code"], "store": STORE, "kiosk": KIOSK})
        assert barcelona.status_code == 403 and barcelona.json()["error"] == "other_store"
        statuses = [api.post("/fleet/api/enrolments", headers=AS_HQ,
                             json={"code": f"AAAA-{n:04d}", "store": STORE, "kiosk": KIOSK}).status_code
                    for n in range(24)]
        assert statuses[0] == 404 and 429 in statuses  # guessed codes soon cost the guesser their access
    assert hq.store.enrolments.state_of(new["enrolment"]) == {"state": "pending", "store": None, "kiosk": None,
                                                              "holds_settings": False}
    assert not (hq.broker.config.parent / "broker" / "passwords").read_text().count(f"{STORE}.{KIOSK}")


def test_a_code_expires_and_an_expired_one_is_neither_approved_nor_collected(hq: Hq) -> None:
    now = [datetime.now(UTC)]
    enrolments = Enrolments(hq.store.engine, clock=lambda: now[0])
    new = enrolments.begin()
    now[0] += timedelta(minutes=16)

    with pytest.raises(ApiRefusal) as approving:
        enrolments.approve(new.code, STORE, KIOSK, lambda store, kiosk: pytest.fail("provisioned an expired code"))
    assert approving.value.error == "code_expired"
    with pytest.raises(ApiRefusal) as collecting:
        enrolments.collect(new.id, new.token)
    assert collecting.value.error == "enrolment_expired"


def test_a_kiosk_trusts_only_the_pinned_certificate_and_sends_nothing_to_another(hq: Hq, tmp_path: Path) -> None:
    impostor = BrokerSecurity(tmp_path / "impostor")
    impostor.init("Impostor", ["127.0.0.1"])  # a certificate for the same address, from another CA
    with pytest.raises(EnrolmentFailed, match="not the one this kiosk trusts"):
        enrol(hq.url, impostor.ca_cert, tmp_path / "etc-kiosk", lambda code, until: pytest.fail("shown a code"))
    with pytest.raises(EnrolmentFailed, match="https only"):
        enrol(hq.url.replace("https", "http"), hq.pinned, tmp_path / "etc-kiosk", lambda code, until: None)
    assert not (tmp_path / "etc-kiosk").exists()
    with hq.api() as api:  # HQ saw no enrolment begun by either
        assert api.get(f"/v1/enrolments/{uuid.uuid4().hex}", headers={"Authorization": "Bearer x"}).status_code == 404

    stop = threading.Event()
    shown: list[str] = []

    def show(code: str, until: datetime) -> None:
        shown.append(code)
        stop.set()  # the kiosk is switched off while it waits

    with pytest.raises(EnrolmentFailed, match="stopped before the code was approved"):
        enrol(hq.url, hq.pinned, tmp_path / "etc-kiosk", show, poll_s=0.05, stop=stop)
    assert len(shown) == 1 and not (tmp_path / "etc-kiosk" / "broker.url").exists()


def test_hq_serve_enrols_with_its_options_and_refuses_them_half_given(
        hq: Hq, mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[object, Path], tmp_path: Path) -> None:
    keys_file = tmp_path / "api-keys.json"
    keys_file.write_text(json.dumps({"hq": KEYS["hq"]}))
    port = free_port()
    serve = [sys.executable, "-m", "kiosk_app", "hq", "serve", "--broker", mosquitto.url, "--db", sqlite_url,
             "--hq-key", str(hq_key[1]), "--api-port", str(port), "--api-keys", str(keys_file),
             "--enrol-broker", str(tmp_path / "broker")]
    half = subprocess.run(serve, capture_output=True, text=True, timeout=60)
    assert half.returncode == 2 and "--enrol-broker needs --api-port, --enrol-broker-address" in half.stderr

    process = subprocess.Popen([*serve, "--enrol-broker-address", "broker.example.com:8883",
                                "--enrol-files-url", "https://hq.example.com/files"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout_s=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as api:
            begun = api.post("/v1/enrolments").json()
            approved = api.post("/fleet/api/enrolments", headers=AS_HQ,
                                json={"code": begun["code"], "store": STORE, "kiosk": KIOSK})
            assert approved.status_code == 200, approved.text
            settings = api.get(f"/v1/enrolments/{begun['enrolment']}",
                               headers={"Authorization": f"Bearer {begun['token']}"}).json()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert settings["broker_url"].startswith(f"mqtts://{STORE}.{KIOSK}:")
    assert settings["broker_url"].endswith("@broker.example.com:8883")
    assert settings["hq_public_key"] == hq_key[1].read_text()
    assert f"user {STORE}.{KIOSK}" in (tmp_path / "broker" / "acl").read_text()
