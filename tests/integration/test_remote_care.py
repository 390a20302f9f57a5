"""Remote care from the dashboard: a screenshot of the real kiosk window under Xvfb, refused
while a shopper is signed in there; the kiosk's last log lines; answers that are forged,
late or from another kiosk dropped; and a store's manager who sees and commands their
store's kiosks only.
"""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, FleetView, ProfileStore, create_app
from hq._auth import Grant, KeyRole
from hq._care import CareRefused
from kiosk_app.demo import free_port
from kiosk_app.ui import theme
from kiosk_protocol import (
    CareAsk,
    CareOutcome,
    CareRequest,
    CareResponse,
    CareTopics,
    KioskStatus,
    LinkState,
    Role,
    issue_token,
)
from kiosk_protocol.contract import decode
from nfc_reader import TagEmulator, encode_card
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in
from testkit.kivy_window import run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually, until
from tests.integration.kiosk_window_steps import KEEP_SCREENSHOTS, SCREENSHOTS, kiosk_config, settled, tap

MADRID, BARCELONA = "madrid-centro", "barcelona-diagonal"
KEYS = {"hq": "hq-key-0123456789abcdef0", "web": "web-key-0123456789abcdef",
        "madrid-staff": "madrid-staff-key-0123456789"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, MADRID)}
AS_HQ, AS_MADRID = {"X-Api-Key": KEYS["hq"]}, {"X-Api-Key": KEYS["madrid-staff"]}


async def _ask(fleet: FleetView, store: str, kiosk: str, ask: CareAsk, lines: int = 100) -> CareResponse | str:
    """Ask from a worker thread (the wait blocks; the window's loop must go on drawing): the answer,
    or the refusal's error."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fleet.care.ask(store, kiosk, ask, lines))
    except CareRefused as exc:
        return exc.error


def test_a_screenshot_shows_the_kiosk_s_screen_and_none_is_taken_while_a_shopper_is_signed_in(
    xvfb_display: str, mosquitto: Mosquitto, fleet: FleetView, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    card = encode_card(issue_token(hq_key[0], "shopper-0042", Role.SHOPPER, 600))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        await until(lambda: app.runtime.link.subscribed.is_set())
        await settled(app)
        app.root.export_to_png(str(tmp_path / "drawn.png"))  # the window's widgets, drawn by Kivy itself
        seen["drawn"] = Image.open(tmp_path / "drawn.png").convert("RGB")
        seen["shot"] = await _ask(fleet, MADRID, "kiosk-01", CareAsk.SCREENSHOT)
        await tap(emulator, card)
        await until(lambda: app.runtime.kiosk.session.shopper == "shopper-0042")
        seen["signed_in"] = await _ask(fleet, MADRID, "kiosk-01", CareAsk.SCREENSHOT)
        seen["logs"] = await _ask(fleet, MADRID, "kiosk-01", CareAsk.LOGS, 3)

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    shot = seen["shot"]
    assert isinstance(shot, CareResponse) and shot.outcome is CareOutcome.DONE and shot.png
    image = Image.open(io.BytesIO(shot.png)).convert("RGB")
    assert image.size == theme.KIOSK_WINDOW
    # What the window drew, as the kiosk's own widgets render it: the same picture, not a blank frame.
    difference = ImageStat.Stat(ImageChops.difference(image, seen["drawn"].resize(image.size))).mean
    assert max(difference) < 8, difference
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
    assert seen["signed_in"] == "in_use"
    logs = seen["logs"]
    assert isinstance(logs, CareResponse) and len(logs.lines) == 3
    assert "HQ asked for logs" in logs.lines[-1] and any("HQ asked for screenshot" in line for line in logs.lines)


def test_a_kiosk_without_a_screen_says_so_and_one_that_is_gone_is_no_answer(fleet: FleetView,
                                                                             mosquitto: Mosquitto) -> None:
    kiosk = _FakeKiosk(mosquitto, MADRID, "kiosk-02", outcome=CareOutcome.FAILED)
    try:
        with pytest.raises(CareRefused) as failed:
            fleet.care.ask(MADRID, "kiosk-02", CareAsk.SCREENSHOT)
        assert (failed.value.status, failed.value.error) == (502, "kiosk_failed")
        assert "without a screen" in failed.value.detail
    finally:
        kiosk.close()
    with pytest.raises(CareRefused) as silent:
        fleet.care.ask(MADRID, "kiosk-02", CareAsk.LOGS, timeout_s=1)
    assert (silent.value.status, silent.value.error) == (504, "no_answer")


def test_forged_late_and_other_kiosks_answers_are_dropped_and_counted(fleet: FleetView, mosquitto: Mosquitto) -> None:
    """An answer counts only for a waiting question, on the topic of the kiosk asked, naming it."""
    impostor = _FakeKiosk(mosquitto, MADRID, "kiosk-01", answer_as=(MADRID, "kiosk-09"))  # names another kiosk
    try:
        with pytest.raises(CareRefused) as refused:
            fleet.care.ask(MADRID, "kiosk-01", CareAsk.LOGS, timeout_s=2)
        assert refused.value.error == "no_answer"
        assert eventually(lambda: fleet.care.refused_answers == 1)
        # An answer nobody asked for, and one too large for its kind, are dropped too.
        impostor.publish(CareTopics(MADRID, "kiosk-01").response, _answer(uuid.uuid4(), MADRID, "kiosk-01"))
        impostor.publish(CareTopics(MADRID, "kiosk-01").response, b"{" + b" " * CareResponse.max_bytes + b"}")
        assert eventually(lambda: fleet.care.refused_answers == 3)
    finally:
        impostor.close()


def test_a_store_s_manager_sees_and_cares_for_their_store_s_kiosks_only(fleet: FleetView, mosquitto: Mosquitto,
                                                                       sqlite_url: str) -> None:
    api = TestClient(create_app(ProfileStore(sqlite_url), ApiKeys(KEYS, grants=GRANTS), fleet=fleet))
    kiosks = [_FakeKiosk(mosquitto, MADRID, "kiosk-01"), _FakeKiosk(mosquitto, BARCELONA, "kiosk-01")]
    try:
        assert eventually(lambda: len(fleet.kiosks()) == 2)
        everyone = api.get("/fleet/api/kiosks", headers=AS_HQ).json()["kiosks"]
        assert [k["store"] for k in everyone] == [BARCELONA, MADRID]
        mine = api.get("/fleet/api/kiosks", headers=AS_MADRID).json()["kiosks"]
        assert [k["store"] for k in mine] == [MADRID]
        assert api.get("/fleet/api/kiosks", headers={"X-Api-Key": KEYS["web"]}).status_code == 403

        logs = api.get(f"/fleet/api/kiosks/{MADRID}/kiosk-01/logs", params={"lines": 2}, headers=AS_MADRID)
        assert logs.status_code == 200 and logs.json() == {"store": MADRID, "kiosk": "kiosk-01",
                                                           "lines": ["line 499", "line 500"]}
        shot = api.get(f"/fleet/api/kiosks/{MADRID}/kiosk-01/screenshot", headers=AS_MADRID)
        assert shot.status_code == 200 and shot.headers["content-type"] == "image/png"
        assert shot.headers["cache-control"] == "no-store" and Image.open(io.BytesIO(shot.content)).size == (4, 3)
        for path, method in ((f"/fleet/api/kiosks/{BARCELONA}/kiosk-01/screenshot", "GET"),
                             (f"/fleet/api/kiosks/{BARCELONA}/kiosk-01/logs", "GET"),
                             (f"/fleet/api/kiosks/{BARCELONA}/kiosk-01/commands", "POST")):
            other = api.request(method, path, headers=AS_MADRID, json={"command": "lock"})
            assert (other.status_code, other.json()["error"]) == (403, "other_store"), path
        assert kiosks[1].asked == 0  # Barcelona's kiosk was never asked
        assert api.get(f"/fleet/api/kiosks/{MADRID}/kiosk-01/logs", params={"lines": 501},
                       headers=AS_HQ).status_code == 422
        assert api.get(f"/fleet/api/kiosks/{MADRID}/kiosk-07/logs", headers=AS_HQ).json()["error"] == "unknown_kiosk"
        with api.stream("GET", "/fleet/api/stream", headers=AS_MADRID) as stream:
            data = (line for line in stream.iter_lines() if line.startswith("data:"))
            snapshot = next(data)
            kiosks[1].say_online()  # Barcelona's news first, then Madrid's: only Madrid's comes
            kiosks[0].say_online()
            change = next(data)
        assert BARCELONA not in snapshot and MADRID in snapshot  # the live view too: Madrid's kiosk only
        assert BARCELONA not in change and MADRID in change
    finally:
        for kiosk in kiosks:
            kiosk.close()


def test_the_dashboard_shows_a_kiosk_s_screen_and_logs_and_says_when_it_is_in_use(
        fleet: FleetView, mosquitto: Mosquitto, sqlite_url: str, tmp_path: Path) -> None:
    """Madrid's manager, signed in with the store's key, on the real page in Chromium."""
    store = ProfileStore(sqlite_url)
    server = ApiServer(create_app(store, ApiKeys(KEYS, grants=GRANTS), fleet=fleet), port=free_port())
    server.start()
    shown = (SCREENSHOTS / "product.png").read_bytes()  # what a kiosk's screen looks like
    kiosks = [_FakeKiosk(mosquitto, MADRID, "kiosk-01", png=shown),
              _FakeKiosk(mosquitto, MADRID, "kiosk-02", outcome=CareOutcome.IN_USE),
              _FakeKiosk(mosquitto, BARCELONA, "kiosk-01")]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860})
            page.goto(f"{server.url}/fleet/")
            sign_in(page, KEYS["madrid-staff"])
            expect(page.locator("section.store h2")).to_have_text(["Madrid Centro"])  # their store's only
            expect(page.locator("section.store tbody tr")).to_have_count(2)

            page.get_by_role("button", name=f"Screenshot of {MADRID}/kiosk-01").click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_role("heading")).to_have_text("Screenshot · kiosk-01, Madrid Centro")
            image = dialog.get_by_role("img", name="The screen of kiosk-01")
            expect(image).to_be_visible()
            page.wait_for_function("document.querySelector('.care-shot').complete")  # decoded, or failed
            assert page.evaluate("document.querySelector('.care-shot').naturalWidth") == Image.open(
                io.BytesIO(shown)).width
            _keep(page, "dashboard-care-screenshot.png", tmp_path)
            dialog.get_by_role("button", name="Close").click()

            page.get_by_role("button", name=f"Logs of {MADRID}/kiosk-01").click()
            expect(dialog.locator("pre")).to_contain_text("line 500")
            assert dialog.locator("pre").inner_text().splitlines()[0] == "line 301"  # the last 200
            _keep(page, "dashboard-care-logs.png", tmp_path)
            dialog.get_by_role("button", name="Close").click()

            page.get_by_role("button", name=f"Screenshot of {MADRID}/kiosk-02").click()
            expect(dialog.locator(".care-refused")).to_have_text(
                "In use: a shopper is signed in at this kiosk. Try again once they have gone.")
            browser.close()
        assert kiosks[2].asked == 0
    finally:
        for kiosk in kiosks:
            kiosk.close()
        fleet.stop()  # ends the page's stream, so the server stops at once
        server.stop()
        store.close()


def _keep(page: Page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str((SCREENSHOTS if KEEP_SCREENSHOTS else tmp_path) / name))


def _answer(request_id: uuid.UUID, store: str, kiosk: str, **fields: Any) -> bytes:
    return CareResponse(request_id=request_id, store=store, kiosk=kiosk, ask=CareAsk.LOGS,
                        outcome=CareOutcome.DONE, **fields).model_dump_json().encode()


class _FakeKiosk:
    """A kiosk on the broker by its topics alone: an online status, and answers to care requests
    (``png`` or a 4x3 PNG, its lines 1 to 500), or ``outcome`` with no content, in the name of ``answer_as``."""

    def __init__(self, mosquitto: Mosquitto, store: str, kiosk: str, outcome: CareOutcome = CareOutcome.DONE,
                 answer_as: tuple[str, str] | None = None, png: bytes | None = None) -> None:
        self.asked = 0
        self._png = png
        self._topics = CareTopics(store, kiosk)
        self._status_topic = f"kiosk/{store}/{kiosk}/status"
        self._name, self._outcome = answer_as or (store, kiosk), outcome
        subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fake-{store}-{kiosk}",
                                   protocol=mqtt.MQTTv5)
        self._client.on_message = self._on_request
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect("127.0.0.1", mosquitto.port)
        self._client.subscribe(self._topics.request, qos=1)
        self._client.loop_start()
        assert subscribed.wait(10)
        self._store, self._kiosk = store, kiosk
        self.say_online()

    def say_online(self) -> None:
        status = KioskStatus(state=LinkState.ONLINE, store=self._store, kiosk=self._kiosk, at=datetime.now(UTC))
        self.publish(self._status_topic, status.model_dump_json().encode(), retain=True)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.publish(self._status_topic, b"", retain=True)  # off the fleet
        self._client.loop_stop()
        self._client.disconnect()

    def _on_request(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.asked += 1
        request = decode(CareRequest, bytes(message.payload))
        fields: dict[str, Any] = {"outcome": self._outcome, "ask": request.ask}
        if self._outcome is CareOutcome.IN_USE:
            fields["detail"] = "a shopper is signed in at this kiosk"
        elif self._outcome is not CareOutcome.DONE:
            fields["detail"] = "this kiosk runs without a screen"
        elif request.ask is CareAsk.LOGS:
            fields["lines"] = [f"line {n}" for n in range(1, 501)][-request.lines:]
        else:
            png = io.BytesIO()
            Image.new("RGB", (4, 3), "white").save(png, "PNG")
            fields["png"] = base64.b64encode(self._png or png.getvalue())
        answer = CareResponse(request_id=request.request_id, store=self._name[0], kiosk=self._name[1], **fields)
        client.publish(self._topics.response, answer.model_dump_json().encode(), qos=1)
