"""The fleet dashboard in a real headless Chromium (Playwright with Debian's chromium),
served by HQ's app on uvicorn, fed by a real Mosquitto: sign in, see kiosks by store,
watch statuses change live without a reload, and send a command that arrives on MQTT."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from backend_sync import KioskFacts, KioskLink, Outbox
from hq import ApiKeys, ApiServer, FleetThresholds, FleetView, ProfileStore, create_app
from hq._guard import SESSION_COOKIE
from kiosk_app.demo import free_port
from kiosk_protocol import KioskCommand, KioskStatus, LinkState
from kiosk_protocol.contract import CommandKind, decode
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in
from testkit.mosquitto import Mosquitto

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
# Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/dashboard*.png from this run.
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
# Each expect waits for the very change it names; 5 s is too short on a busy machine.
expect.set_options(timeout=20_000)

# (store, kiosk, state, app version, catalog version, backlog, reader, update problem)
FLEET = [
    ("madrid-centro", "kiosk-02", LinkState.ONLINE, "1.4.0", 42, 3, "offline", ""),
    ("madrid-centro", "kiosk-03", LinkState.OFFLINE, "1.3.2", 41, 0, "online", ""),
    ("barcelona-diagonal", "kiosk-01", LinkState.ONLINE, "1.4.0", 42, 812, "online", ""),
    ("barcelona-diagonal", "kiosk-02", LinkState.ONLINE, "1.4.0", 41, 0, "online", "manifest has expired"),
    ("sevilla-nervion", "kiosk-01", LinkState.ONLINE, "1.4.0", 42, 0, "online", ""),
]


def _status(store: str, kiosk: str, state: LinkState, app: str, catalog: int, backlog: int, reader: str,
            problem: str) -> bytes:
    return KioskStatus(state=state, store=store, kiosk=kiosk, app_version=app, catalog_version=catalog,
                       backlog=backlog, reader=reader, update_problem=problem,
                       at=datetime.now(UTC)).model_dump_json().encode()


class CommandListener:
    """A stand-in for every kiosk's command subscription."""

    def __init__(self, port: int) -> None:
        self.heard: list[tuple[str, KioskCommand]] = []
        self.arrived = threading.Event()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kiosks-listening")
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("kiosk/+/+/commands", qos=1)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self.heard.append((message.topic, decode(KioskCommand, bytes(message.payload))))
        self.arrived.set()

    def publish_status(self, *fields: object) -> None:
        store, kiosk = str(fields[0]), str(fields[1])
        self.client.publish(f"kiosk/{store}/{kiosk}/status", _status(*fields), qos=1,  # type: ignore[arg-type]
                            retain=True).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def hq_url(mosquitto: Mosquitto, sqlite_url: str) -> Iterator[str]:
    store = ProfileStore(sqlite_url)
    fleet = FleetView(mosquitto.url, thresholds=FleetThresholds(backlog_high=500))
    fleet.start()
    assert fleet.subscribed.wait(10)
    server = ApiServer(create_app(store, ApiKeys(KEYS), broker_url=mosquitto.url, fleet=fleet), port=free_port())
    server.start()
    yield server.url
    fleet.stop()  # ends the open dashboard stream, so the server stops at once
    server.stop()
    store.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1360, "height": 860})
        browser.close()


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / name
    page.screenshot(path=str(target), full_page=True)
    return target


def test_the_dashboard_shows_the_fleet_live_and_sends_commands_over_mqtt(
        mosquitto: Mosquitto, hq_url: str, page: Page, tmp_path: Path) -> None:
    kiosks = CommandListener(mosquitto.port)
    for fields in FLEET:
        kiosks.publish_status(*fields)
    facts = KioskFacts(app_version="1.4.0", catalog_version=42, reader="online")
    link = KioskLink(mosquitto.url, "madrid-centro", "kiosk-01", Outbox(tmp_path / "outbox.sqlite"),
                     facts=lambda: facts)  # one real kiosk link among the published statuses
    link.start()
    try:
        page.goto(f"{hq_url}/fleet/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        _screenshot(page, "dashboard-signin.png", tmp_path)
        sign_in(page, KEYS["web"])  # a shop channel's key is no fleet key
        expect(page.locator("#signin-error")).to_be_visible()
        sign_in(page, KEYS["hq"])

        madrid = page.locator("section.store[data-store='madrid-centro']")
        expect(madrid.locator("tbody tr")).to_have_count(3)
        expect(page.locator("section.store h2")).to_have_text(["Barcelona Diagonal", "Madrid Centro",
                                                               "Sevilla Nervion"])
        row = madrid.locator("tr[data-kiosk='kiosk-01']")
        expect(row).to_have_attribute("data-state", "online")
        expect(row).to_contain_text("1.4.0")
        expect(madrid.locator("tr[data-kiosk='kiosk-02']")).to_contain_text("NFC reader is offline")
        expect(madrid.locator("tr[data-kiosk='kiosk-03']")).to_contain_text("Kiosk is offline")
        barcelona = page.locator("section.store[data-store='barcelona-diagonal']")
        expect(barcelona.locator("tr[data-kiosk='kiosk-01']")).to_contain_text("812 events waiting to reach HQ")
        expect(barcelona.locator("tr[data-kiosk='kiosk-02']")).to_contain_text("manifest has expired")
        expect(page.locator("#sum-total")).to_have_text("6")
        expect(page.locator("#sum-alerts")).to_have_text("4")
        expect(page.locator("#live")).to_have_text("Live")
        page.evaluate("window.sameDocument = true")  # gone if the page reloads

        # Live: a reader comes back, another kiosk goes away, with no reload.
        kiosks.publish_status("madrid-centro", "kiosk-02", LinkState.ONLINE, "1.4.0", 42, 0, "online", "")
        expect(madrid.locator("tr[data-kiosk='kiosk-02']")).not_to_contain_text("NFC reader is offline")
        link.stop()
        expect(row).to_have_attribute("data-state", "offline")
        expect(row).to_contain_text("Kiosk is offline")
        expect(page.locator("#sum-offline")).to_have_text("2")

        expect(page.get_by_role("button", name="Screenshot of madrid-centro/kiosk-01")).to_be_disabled()  # offline
        expect(page.get_by_role("button", name="Logs of madrid-centro/kiosk-02")).to_be_enabled()
        page.get_by_label("Only kiosks that need attention").check()
        expect(page.locator("tbody tr")).to_have_count(4)
        page.get_by_label("Only kiosks that need attention").uncheck()

        page.get_by_role("button", name="Lock barcelona-diagonal/kiosk-01", exact=True).click()
        expect(page.locator(".toast")).to_contain_text("Lock sent to kiosk-01, Barcelona Diagonal")
        assert kiosks.arrived.wait(10)
        assert kiosks.heard == [("kiosk/barcelona-diagonal/kiosk-01/commands", KioskCommand(command=CommandKind.LOCK))]
        assert page.evaluate("window.sameDocument") is True
        shot = _screenshot(page, "dashboard.png", tmp_path)
        assert shot.stat().st_size > 20_000

        # Signing out ends the session at HQ: the cookie it had is refused even if replayed.
        (cookie,) = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
        replayed = page.request.get(f"{hq_url}/fleet/api/kiosks",
                                    headers={"Cookie": f"{SESSION_COOKIE}={cookie['value']}"})
        assert replayed.status == 401
        page.reload()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        link.stop()
        kiosks.close()
