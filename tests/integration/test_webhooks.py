"""Webhooks with real parts: HQ's API over a real socket, kiosk events over a real Mosquitto,
receivers that are real HTTP servers checking each Standard Webhooks signature, the
`kiosk` command in child processes, and the dashboard in headless Chromium.

Changes arrive signed, in cursor order per shopper, never at the channel that made them;
a receiver that is down, answers 5xx, hangs, trickles, redirects or floods is retried or
parked as it deserves, a parked change holds back its shopper's later changes (and only
theirs) until the dashboard's Retry, and an HQ restart resumes without losing one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect, sync_playwright
from standardwebhooks import Webhook as Verifier

from hq import ApiKeys, ApiServer, DeliveryPolicy, FleetView, IngestWorker, ProfileStore, create_app
from kiosk_app.cli import main
from kiosk_app.demo import free_port
from kiosk_protocol import (
    ConsentStatus,
    EventKind,
    Hlc,
    KioskStatus,
    LinkState,
    Role,
    TapEvent,
    issue_token,
    new_event,
    wall_clock_ms,
)
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually, wait_for_port
from testkit.webhook_steps import FAST, KIOSK, STORE, KioskPublisher, delivering, receiving
from testkit.webhooks import Answer, Attempt, WebhookReceiver

KEYS = {"web": "web-key-0123456789abcdef", "app": "app-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
ANA, BEN = "shopper-ana", "shopper-ben"
KIOSK_COMMAND = [sys.executable, "-m", "kiosk_app"]
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"  # KIOSK_UPDATE_SCREENSHOTS=1 refreshes them
expect.set_options(timeout=20_000)


class Hq:
    """HQ's API on a real socket over one profile store, and the channels' clients."""

    def __init__(self, store: ProfileStore, fleet: FleetView | None = None) -> None:
        self.store = store
        self.server = ApiServer(create_app(store, ApiKeys(KEYS), fleet=fleet), port=free_port())
        self.server.start()
        self.client = {channel: httpx.Client(base_url=self.server.url, headers={"X-Api-Key": key}, timeout=20)
                       for channel, key in KEYS.items()}

    def wishlist(self, channel: str, shopper: str, sku: str) -> None:
        answer = self.client[channel].put(f"/v1/shoppers/{shopper}/wishlist/{sku}")
        assert answer.status_code == 200, answer.text

    def feed(self) -> list[dict[str, Any]]:
        answer = self.client["web"].get("/v1/changes", params={"limit": 1000})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["changes"])

    def close(self) -> None:
        for client in self.client.values():
            client.close()
        self.server.stop()


@pytest.fixture
def store(sqlite_url: str) -> Iterator[ProfileStore]:
    profile_store = ProfileStore(sqlite_url)
    yield profile_store
    profile_store.close()


@pytest.fixture
def hq(store: ProfileStore) -> Iterator[Hq]:
    server = Hq(store)
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_on_either(request: pytest.FixtureRequest) -> Iterator[Hq]:
    """HQ on SQLite, then on PostgreSQL."""
    store = ProfileStore(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))
    server = Hq(store)
    yield server
    server.close()
    store.close()


def _signed_in_visit(card: str, shopper: str, first_seq: int) -> list[TapEvent]:
    visit, now = uuid.uuid4(), wall_clock_ms()

    def event(kind: EventKind, n: int, **details: object) -> TapEvent:
        return new_event(kind=kind, store=STORE, kiosk=KIOSK, seq=first_seq + n, session=visit, shopper=shopper,
                         card=card, **details)

    return [event(EventKind.CONSENT, 0, consent=ConsentStatus.GRANTED, hlc=str(Hlc(now, 0, KIOSK))),
            event(EventKind.PRODUCT_VIEW, 1, sku="BOOT-1"),
            event(EventKind.WISHLIST_ADD, 2, sku="BOOT-1", hlc=str(Hlc(now + 1, 0, KIOSK)))]


def _wait_for_count(receiver: WebhookReceiver, count: int) -> bool:
    return receiver.wait_for(lambda: len(receiver.delivered()) >= count)


def _in_order_per_shopper(changes: list[dict[str, Any]]) -> bool:
    last: dict[str, int] = {}
    for change in changes:
        if change["cursor"] <= last.get(change["shopper"], 0):
            return False
        last[change["shopper"]] = change["cursor"]
    return True


def _sent(receiver: WebhookReceiver, shopper: str) -> list[str]:
    return [c.get("sku", c["kind"]) for c in receiver.delivered() if c["shopper"] == shopper]


def test_changes_from_the_api_and_a_kiosk_arrive_signed_in_order_per_shopper_and_never_at_their_own_channel(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    hq = Hq(hq_ingest.store)
    kiosk = KioskPublisher(mosquitto.port)
    try:
        with receiving(hq.store, "web") as web, receiving(hq.store, "app") as app, delivering(hq.store):
            hq.wishlist("web", ANA, "SKU-1")
            hq.wishlist("app", ANA, "SKU-2")
            assert hq.client["app"].put(f"/v1/shoppers/{BEN}/preferences/size", json={"value": "42"}).is_success
            kiosk.publish(*_signed_in_visit(issue_token(hq_key[0], BEN, Role.SHOPPER, 600), BEN, 1))
            assert eventually(lambda: hq_ingest.stats.stored == 3)
            hq.wishlist("web", BEN, "SKU-3")
            hq.wishlist("app", ANA, "SKU-4")
            feed = hq.feed()
            assert len(feed) == 8
            for receiver, channel in ((web, "web"), (app, "app")):
                expected = [change for change in feed if change["channel"] != channel]
                assert _wait_for_count(receiver, len(expected))
                arrived = receiver.delivered()
                assert sorted(arrived, key=lambda c: c["cursor"]) == expected  # each as GET /v1/changes lists it
                assert _in_order_per_shopper(arrived)
                assert all(a.refused == "" for a in receiver.attempts)  # every signature checked out
                assert [a.webhook_id for a in receiver.attempts if a.delivered] == [
                    f"chg_{c['cursor']}_{channel}" for c in arrived]
                assert {a.headers["content-type"] for a in receiver.attempts} == {"application/json"}
            assert {c["channel"] for c in web.delivered()} == {"app", f"kiosk:{KIOSK}"}
            assert {c["channel"] for c in app.delivered()} == {"web", f"kiosk:{KIOSK}"}

            # An erase is a change too: the channel that erased hears nothing, the other hears the erase.
            assert hq.client["app"].delete(f"/v1/shoppers/{ANA}").status_code == 200
            assert web.wait_for(lambda: web.delivered()[-1]["kind"] == "erase")
            assert web.delivered()[-1]["shopper"] == ANA and web.delivered()[-1]["channel"] == "app"
            assert eventually(lambda: hq.store.webhooks.statuses()[1].queued == 0)
            assert [c["kind"] for c in app.delivered()].count("erase") == 0
            assert (len(web.delivered()), len(app.delivered())) == (7, 5)
            assert eventually(lambda: {hook.channel: hook.delivered for hook in hq.store.webhooks.all()} == {
                "web": 7, "app": 5})
    finally:
        kiosk.close()
        hq.close()


def test_a_receiver_that_is_down_gets_every_change_once_it_is_back(hq: Hq) -> None:
    with receiving(hq.store, "web", started=False) as web, delivering(hq.store):
        for sku in ("SKU-1", "SKU-2", "SKU-3"):
            hq.wishlist("app", ANA, sku)
            hq.wishlist("app", BEN, sku)
        assert eventually(lambda: _counters(hq.store)[1] >= 6)
        assert web.attempts == []  # connections were refused
        web.start()
        assert web.wait_for(lambda: len(web.delivered()) == 6)
        assert _sent(web, ANA) == _sent(web, BEN) == ["SKU-1", "SKU-2", "SKU-3"]
        assert sorted(c["cursor"] for c in web.delivered()) == [c["cursor"] for c in hq.feed()]
        assert eventually(lambda: _counters(hq.store)[0] == 6) and _counters(hq.store)[2] == 0


def test_a_webhook_added_and_a_change_made_in_this_process_wake_delivery_with_no_poll(hq: Hq) -> None:
    never_polls = dataclasses.replace(FAST, poll_s=3600.0, refresh_s=3600.0)
    with receiving(hq.store, "app") as app, delivering(hq.store, never_polls) as delivery:
        assert eventually(lambda: delivery.stats.lanes == 1)  # the webhooks were read: the next read is an hour off
        with receiving(hq.store, "web") as web:
            assert eventually(lambda: delivery.stats.lanes == 2)
            for count, sku in enumerate(("SKU-1", "SKU-2", "SKU-3"), 1):  # each made once the lanes sit idle
                hq.wishlist("hq", ANA, sku)
                assert web.wait_for(lambda: len(web.delivered()) == count)  # noqa: B023 - waited on here
                assert app.wait_for(lambda: len(app.delivered()) == count)  # noqa: B023
        assert _sent(web, ANA) == _sent(app, ANA) == ["SKU-1", "SKU-2", "SKU-3"]


def test_5xx_answers_are_retried_under_the_same_webhook_id_until_taken(hq: Hq) -> None:
    with receiving(hq.store, "web") as web, delivering(hq.store):
        web.answer = lambda attempt: Answer(503 if [a.webhook_id for a in web.attempts].count(attempt.webhook_id) < 2
                                            else 200)
        hq.wishlist("app", ANA, "SKU-1")
        hq.wishlist("app", ANA, "SKU-2")
        assert web.wait_for(lambda: len(web.delivered()) == 2)
        assert [(a.webhook_id, a.answered) for a in web.attempts] == [
            (web.attempts[0].webhook_id, 503), (web.attempts[0].webhook_id, 503), (web.attempts[0].webhook_id, 200),
            (web.attempts[3].webhook_id, 503), (web.attempts[3].webhook_id, 503), (web.attempts[3].webhook_id, 200)]
        assert _sent(web, ANA) == ["SKU-1", "SKU-2"]
        assert eventually(lambda: _counters(hq.store)[1] == 4)


def _counters(store: ProfileStore, channel: str = "web") -> tuple[int, int, int]:
    hook = store.webhooks.get(channel)
    assert hook is not None
    return hook.delivered, hook.retried, hook.parked


def _refuse_bad(attempt: Attempt) -> Answer:
    return Answer(422) if attempt.change and attempt.change.get("sku") == "BAD-1" else Answer(204)


def test_a_permanent_failure_parks_and_holds_back_that_shopper_while_other_shoppers_flow(hq_on_either: Hq) -> None:
    hq = hq_on_either
    with receiving(hq.store, "web") as web, delivering(hq.store):
        web.answer = _refuse_bad
        hq.wishlist("app", ANA, "BAD-1")
        hq.wishlist("app", ANA, "SKU-2")
        hq.wishlist("app", BEN, "SKU-3")
        assert eventually(lambda: hq.store.webhooks.statuses()[0].parked_now == 1)
        hq.wishlist("app", ANA, "SKU-4")
        hq.wishlist("app", BEN, "SKU-5")
        assert web.wait_for(lambda: _sent(web, BEN) == ["SKU-3", "SKU-5"])
        assert _sent(web, ANA) == []
        (status,) = hq.store.webhooks.statuses()
        (parked,) = status.parked_changes
        assert (parked.shopper, parked.kind, parked.attempts, parked.held) == (ANA, "wishlist_add", 1, 2)
        assert parked.problem.startswith("answered 422")
        assert [a.answered for a in web.attempts].count(422) == 1  # parked at once, not retried

        web.answer = lambda attempt: Answer(204)  # the receiver is fixed
        assert hq.store.webhooks.retry("web", parked.cursor) == 1
        assert web.wait_for(lambda: _sent(web, ANA) == ["BAD-1", "SKU-2", "SKU-4"])
        assert eventually(lambda: _counters(hq.store) == (5, 0, 1))


@pytest.mark.parametrize(("policy", "attempts"), [
    (DeliveryPolicy(timeout_s=2, first_retry_s=0.02, max_retry_s=0.05, max_attempts=3, poll_s=0.02, refresh_s=0.05),
     3),
    (DeliveryPolicy(timeout_s=2, first_retry_s=0.05, max_retry_s=0.1, max_attempts=10**6, give_up_after_s=0.5,
                    poll_s=0.02, refresh_s=0.05), None),
], ids=["attempts", "time"])
def test_a_change_that_keeps_failing_is_parked_when_its_attempts_or_its_time_run_out(
        hq: Hq, policy: DeliveryPolicy, attempts: int | None) -> None:
    with receiving(hq.store, "web") as web, delivering(hq.store, policy):
        web.answer = lambda attempt: Answer(500)
        hq.wishlist("app", ANA, "SKU-1")
        assert eventually(lambda: hq.store.webhooks.statuses()[0].parked_now == 1)
        (parked,) = hq.store.webhooks.statuses()[0].parked_changes
        assert parked.problem.startswith("answered 500")
        assert parked.attempts == (attempts or parked.attempts) and parked.attempts > 1
        assert len(web.attempts) == parked.attempts


@pytest.mark.parametrize("hostile", ["hangs", "trickles"])
def test_a_receiver_that_hangs_or_trickles_is_cut_off_and_tried_again(
        hq: Hq, hostile: str, caplog: pytest.LogCaptureFixture) -> None:
    policy = DeliveryPolicy(timeout_s=0.5, first_retry_s=0.05, max_retry_s=0.1, poll_s=0.02, refresh_s=0.05)
    with receiving(hq.store, "web") as web, delivering(hq.store, policy):
        web.answer = lambda attempt: Answer(hang=hostile == "hangs", trickle=hostile == "trickles") \
            if len(web.attempts) == 0 else Answer(204)
        with caplog.at_level("INFO", logger="hq._delivery"):
            hq.wishlist("app", ANA, "SKU-1")
            assert web.wait_for(lambda: len(web.delivered()) == 1)
        assert [a.answered for a in web.attempts] == [0, 204]
        assert any("no answer within 0.5 s" in record.getMessage() for record in caplog.records)


def test_a_redirect_is_not_followed_and_parks_the_change(hq: Hq) -> None:
    with receiving(hq.store, "web") as web, receiving(hq.store, "app") as elsewhere, delivering(hq.store):
        web.answer = lambda attempt: Answer(307, headers={"location": elsewhere.url})
        hq.wishlist("hq", ANA, "SKU-1")  # for both webhooks
        assert elsewhere.wait_for(lambda: len(elsewhere.delivered()) == 1)
        assert eventually(lambda: hq.store.webhooks.statuses()[1].parked_now == 1)
        (parked,) = hq.store.webhooks.statuses()[1].parked_changes
        assert "redirects are not followed" in parked.problem and elsewhere.url in parked.problem
        assert len(elsewhere.attempts) == 1 and elsewhere.attempts[0].webhook_id.endswith("_app")


def test_a_huge_answer_body_is_never_read(hq: Hq) -> None:
    with receiving(hq.store, "web") as web, delivering(hq.store):
        web.answer = lambda attempt: Answer(200, flood_bytes=1 << 30)
        hq.wishlist("app", ANA, "SKU-1")
        hq.wishlist("app", ANA, "SKU-2")
        assert web.wait_for(lambda: len(web.delivered()) == 2)
        assert web.flood_ended.wait(20)
        assert web.flooded < 64 << 20  # HQ hung up after the status line; 2 GiB were on offer


def test_a_url_hq_may_not_call_is_parked_whatever_the_database_says(hq: Hq, sqlite_url: str) -> None:
    with receiving(hq.store, "web"):
        engine = sa.create_engine(sqlite_url)
        with engine.begin() as db:
            db.execute(sa.text("UPDATE webhooks SET url = 'file:///etc/passwd'"))
        engine.dispose()
        with delivering(hq.store):
            hq.wishlist("app", ANA, "SKU-1")
            assert eventually(lambda: hq.store.webhooks.statuses()[0].parked_now == 1)
            assert "not file" in hq.store.webhooks.statuses()[0].parked_changes[0].problem


def _run(*args: str | Path, env: dict[str, str], expect_rc: int = 0) -> Result:
    """The ``kiosk`` command in this process (as a shell runs it, with ``env`` set), and what it printed."""
    result = CliRunner().invoke(main, [str(arg) for arg in args], env=env)
    assert result.exit_code == expect_rc, result.output
    # A refusal is the command's own clean exit, never an error escaping it (a traceback in a shell).
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _db_env(tmp_path: Path) -> dict[str, str]:
    return {"KIOSK_DB_URL": f"sqlite:///{tmp_path / 'hq.sqlite'}"}


def test_webhooks_are_added_listed_and_removed_from_the_command_line_with_the_secret_kept_off_it(
        tmp_path: Path) -> None:
    env, secret_file = _db_env(tmp_path), tmp_path / "web.whsec"
    keys_file = tmp_path / "keys.json"
    _run("hq", "new-api-keys", keys_file, "web", "app", "hq", env=env)
    added = _run("hq", "webhooks", "add", "--channel", "web", "--url", "https://shop.example/hooks",
                 "--secret-out", secret_file, "--api-keys", keys_file, env=env)
    secret = secret_file.read_text().strip()
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert secret.startswith("whsec_") and Verifier(secret)  # a secret standardwebhooks takes
    assert secret not in added.stdout + added.stderr and secret.removeprefix("whsec_") not in added.stdout
    listed = _run("hq", "webhooks", "list", env=env)
    assert "web  https://shop.example/hooks  delivered 0  retried 0  parked 0  waiting 0" in listed.stdout
    assert secret.removeprefix("whsec_")[:12] not in listed.stdout + listed.stderr

    refusals = [
        (["--channel", "web", "--url", "https://other.example/hooks"], "has a webhook already"),
        (["--channel", "app", "--url", "http://shop.example/hooks"], "--allow-http"),
        (["--channel", "app", "--url", "https://me:pw@shop.example/hooks"], "credentials"),
        (["--channel", "app", "--url", "file:///etc/passwd"], "not file"),
        (["--channel", "app", "--url", "http://169.254.169.254/latest/"], "169.254.169.254"),
        (["--channel", "App", "--url", "https://shop.example/hooks"], "not a channel name"),
        (["--channel", "shop", "--url", "https://shop.example/hooks", "--api-keys", str(keys_file)],
         "has no channel 'shop'"),
    ]
    for args, says in refusals:
        out = tmp_path / f"refused-{uuid.uuid4().hex}.whsec"
        refused = _run("hq", "webhooks", "add", *args, "--secret-out", out, env=env, expect_rc=1)
        assert says in refused.stderr and "Traceback" not in refused.stderr
        assert not out.exists()  # no secret left behind for a webhook that is not there
    again = _run("hq", "webhooks", "add", "--channel", "app", "--url", "https://shop.example/app",
                 "--secret-out", secret_file, env=env, expect_rc=1)
    assert "never replaced" in again.stderr and secret_file.read_text().strip() == secret
    _run("hq", "webhooks", "add", "--channel", "app", "--url", "http://receiver.internal/hooks", "--allow-http",
         "--secret-out", tmp_path / "app.whsec", env=env)

    assert "webhook of web removed" in _run("hq", "webhooks", "remove", "--channel", "web", env=env).stdout
    assert "has no webhook" in _run("hq", "webhooks", "remove", "--channel", "web", env=env, expect_rc=1).stderr
    assert _run("hq", "webhooks", "list", env=env).stdout.splitlines() == [
        "app  http://receiver.internal/hooks  delivered 0  retried 0  parked 0  waiting 0"]


def test_an_hq_restart_resumes_delivery_where_it_stopped_losing_and_repeating_none(
        tmp_path: Path, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    env = _db_env(tmp_path)
    keys_file, secret_file, port, api_port = tmp_path / "keys.json", tmp_path / "web.whsec", free_port(), free_port()
    keys_file.write_text(json.dumps(KEYS))
    keys_file.chmod(0o600)
    _run("hq", "webhooks", "add", "--channel", "web", "--url", f"http://127.0.0.1:{port}/hooks", "--secret-out",
         secret_file, env=env)
    web = WebhookReceiver(secret_file.read_text().strip(), port).start()
    serve = [*KIOSK_COMMAND, "hq", "serve", "--broker", mosquitto.url, "--hq-key", str(hq_key[1]),
             "--api-port", str(api_port), "--api-keys", str(keys_file)]
    card = issue_token(hq_key[0], BEN, Role.SHOPPER, 600)
    app = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"X-Api-Key": KEYS["app"]}, timeout=20)
    kiosk = KioskPublisher(mosquitto.port)
    try:
        with _serving(serve, env, api_port):
            for sku in ("SKU-1", "SKU-2"):
                assert app.put(f"/v1/shoppers/{ANA}/wishlist/{sku}").status_code == 200
            assert web.wait_for(lambda: len(web.delivered()) == 2)
            assert eventually(lambda: _delivered_in(env) == 2)  # recorded, so not sent again after the restart
        kiosk.publish(*_signed_in_visit(card, BEN, 1))  # while HQ is down: its broker session keeps them
        with _serving(serve, env, api_port):
            assert app.put(f"/v1/shoppers/{ANA}/wishlist/SKU-3").status_code == 200
            assert web.wait_for(lambda: len(web.delivered()) == 6)
            listed = _run("hq", "webhooks", "list", env=env).stdout
        assert _sent(web, ANA) == ["SKU-1", "SKU-2", "SKU-3"]
        assert _sent(web, BEN) == ["consent", "BOOT-1", "BOOT-1"]
        assert len({a.webhook_id for a in web.attempts}) == len(web.attempts) == 6  # none lost, none twice
        assert "delivered 6  retried 0  parked 0  waiting 0" in listed
    finally:
        kiosk.close()
        app.close()
        web.stop()


def _delivered_in(env: dict[str, str]) -> int:
    store = ProfileStore(env["KIOSK_DB_URL"])
    try:
        return _counters(store)[0]
    finally:
        store.close()


@contextmanager
def _serving(command: list[str], env: dict[str, str], api_port: int) -> Iterator[None]:
    """`kiosk hq serve` until the block ends, stopped as an operator stops it (SIGTERM)."""
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        wait_for_port(api_port, timeout_s=60)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "webhooks: DeliveryStats(" in output


def test_the_dashboard_shows_a_parked_change_and_its_retry_button_delivers_it_and_what_it_held(
        mosquitto: Mosquitto, fleet: FleetView, store: ProfileStore, tmp_path: Path) -> None:
    hq = Hq(store, fleet)
    kiosks = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kiosks")
    kiosks.connect("127.0.0.1", mosquitto.port)
    kiosks.loop_start()
    for kiosk, backlog in (("kiosk-01", 0), ("kiosk-02", 4)):  # the fleet the page shows above the webhooks
        status = KioskStatus(state=LinkState.ONLINE, store=STORE, kiosk=kiosk, app_version="1.4.0", catalog_version=42,
                             backlog=backlog, reader="online", at=datetime.now(UTC))
        kiosks.publish(f"kiosk/{STORE}/{kiosk}/status", status.model_dump_json(), qos=1,
                       retain=True).wait_for_publish(5)
    try:
        with receiving(store, "web") as web, receiving(store, "app") as app, delivering(store), \
                sync_playwright() as playwright:
            web.answer = _refuse_bad
            for channel, shopper, sku in (("app", ANA, "BAD-1"), ("app", ANA, "SKU-2"), ("app", BEN, "SKU-3"),
                                          ("web", BEN, "SKU-4"), ("app", ANA, "SKU-5")):
                hq.wishlist(channel, shopper, sku)
            assert web.wait_for(lambda: _sent(web, BEN) == ["SKU-3"])
            assert app.wait_for(lambda: len(app.delivered()) == 1)
            assert eventually(lambda: store.webhooks.statuses()[1].parked_now == 1)

            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860})
            page.goto(f"{hq.server.url}/fleet/")
            sign_in(page, KEYS["hq"])
            hook = page.locator("section.webhook[data-channel='web']")
            expect(hook.locator(".parked-table tbody tr")).to_have_count(1)
            row = hook.locator(".parked-table tbody tr")
            expect(row).to_contain_text(ANA)
            expect(row).to_contain_text("Wishlist add")
            expect(row).to_contain_text("answered 422")
            expect(row).to_contain_text("2 changes")
            expect(hook.locator(".hook-stat", has_text="Delivered")).to_contain_text("1")
            expect(page.locator("section.webhook[data-channel='app']")).to_contain_text("Delivering")
            expect(page.locator(f"section.store[data-store='{STORE}'] tbody tr")).to_have_count(2)
            expect(page.locator("#sum-parked")).to_have_text("1")
            shot = SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path
            page.screenshot(path=str(shot / "dashboard-webhooks.png"), full_page=True)

            # What another site's form could send with the cookie is refused, and changes nothing.
            (cursor,) = [p.cursor for p in store.webhooks.statuses()[1].parked_changes]
            forged = page.request.post(f"{hq.server.url}/fleet/api/webhooks/web/retry",
                                       form={"cursor": str(cursor)})
            assert forged.status == 422 and store.webhooks.statuses()[1].parked_now == 1
            not_parked = page.request.post(f"{hq.server.url}/fleet/api/webhooks/web/retry",
                                           data={"cursor": cursor + 1000})  # the page's own way: JSON, its cookie
            assert not_parked.status == 409 and not_parked.json()["error"] == "not_parked"

            web.answer = lambda attempt: Answer(204)  # the receiver is fixed
            page.get_by_role("button", name=f"Retry change {cursor} for web").click()
            expect(page.locator(".toast")).to_contain_text(f"Change {cursor} queued again for web")
            assert web.wait_for(lambda: _sent(web, ANA) == ["BAD-1", "SKU-2", "SKU-5"])
            expect(hook.locator(".parked-table")).to_have_count(0)
            expect(hook).to_contain_text("Delivering")
            expect(page.locator("#sum-parked")).to_have_text("0")
            browser.close()
    finally:
        kiosks.loop_stop()
        kiosks.disconnect()
        hq.close()
