"""The alarm log on the dashboard, with real parts: HQ's app on uvicorn over SQLite, its fleet view
on a real Mosquitto, the alarm watch raising from it, the page in a headless Chromium. HQ's key
sees every store's alarms; a store's key sees its store's only, on the page and in the API.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/dashboard-alarms.png.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from hq import (
    AlarmKind,
    AlarmWatch,
    ApiKeys,
    ApiServer,
    FleetView,
    Grant,
    KeyRole,
    ProfileStore,
    RequestWatch,
    create_app,
)
from hq._webhooks import new_secret
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import LinkState, load_catalog
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.clock import AheadClock
from testkit.dashboard import sign_in
from testkit.fleet_status import report
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

MADRID, BARCELONA = "madrid-centro", "barcelona-diagonal"
KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0", "madrid-staff": "madrid-key-0123456789ab"}
AS_HQ, AS_MADRID = {"X-Api-Key": KEYS["hq"]}, {"X-Api-Key": KEYS["madrid-staff"]}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
expect.set_options(timeout=20_000)


@dataclass
class Hq:
    url: str
    store: ProfileStore
    fleet: FleetView
    watch: AlarmWatch
    requests_clock: AheadClock


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str) -> Iterator[Hq]:
    store = ProfileStore(sqlite_url)
    store.stock.load_catalog(load_catalog(demo_catalog_path()))
    clock = AheadClock()
    fleet = FleetView(mosquitto.url)
    fleet.watch_requests(RequestWatch(store.reservations, 5, stores=lambda: [MADRID], clock=clock).alerts)
    fleet.start()
    assert fleet.subscribed.wait(10)
    watch = AlarmWatch(store.alarms, fleet, raise_after_s=0)  # raised at the first round that sees the problem
    server = ApiServer(create_app(store, ApiKeys(KEYS, grants={"madrid-staff": Grant(KeyRole.STORE, MADRID)}),
                                  fleet=fleet), port=free_port())
    server.start()
    yield Hq(server.url, store, fleet, watch, clock)
    fleet.stop()
    server.stop()
    store.close()


def test_the_alarm_log_shows_each_store_its_own_alarms_raised_and_cleared(
        hq: Hq, mosquitto: Mosquitto, tmp_path: Path) -> None:
    secret = new_secret()
    hq.store.alarms.add_route(MADRID, webhook_url="http://127.0.0.1:9/unreachable", secret=secret)
    hq.store.alarms.add_route(MADRID, email="manager@madrid.example")
    report(mosquitto.port, MADRID, "kiosk-01", reader="offline")
    report(mosquitto.port, MADRID, "kiosk-02")
    report(mosquitto.port, BARCELONA, "kiosk-01", state=LinkState.OFFLINE)
    assert eventually(lambda: len(hq.fleet.kiosks()) == 3 and all(v.alerts for v in hq.fleet.kiosks()
                                                                   if v.key != (MADRID, "kiosk-02")))
    with httpx.Client(base_url=hq.url, headers={"X-Api-Key": KEYS["web"]}, timeout=30) as web:
        assert web.post(f"/v1/stores/{MADRID}/reservations",
                        json={"sku": "BOOT-CHELSEA-BLK", "size": "41", "kind": "fitting_room"}).status_code == 201
    hq.requests_clock.ahead = timedelta(minutes=6)  # nobody took it
    hq.fleet.recheck()
    hq.fleet.recheck()
    hq.watch.round()
    assert {(k.store, k.kiosk, k.kind) for k in hq.store.alarms.open_alarms()} == {
        (MADRID, "kiosk-01", AlarmKind.READER_OFFLINE), (BARCELONA, "kiosk-01", AlarmKind.OFFLINE),
        (MADRID, "", AlarmKind.REQUEST_UNANSWERED)}
    report(mosquitto.port, MADRID, "kiosk-01")  # the reader is back: that alarm clears
    assert eventually(lambda: not hq.fleet.kiosk(MADRID, "kiosk-01").alerts)  # type: ignore[union-attr]
    hq.watch.round()

    with httpx.Client(base_url=hq.url, timeout=30) as api:
        everything = api.get("/fleet/api/alarms", headers=AS_HQ).json()["alarms"]
        assert sorted((a["store"], a["kiosk"] or "", a["kind"], a["cleared_at"] is None) for a in everything) == [
            (BARCELONA, "kiosk-01", "offline", True), (MADRID, "", "request_unanswered", True),
            (MADRID, "kiosk-01", "reader_offline", False)]
        madrid = api.get("/fleet/api/alarms", headers=AS_MADRID).json()["alarms"]
        assert {a["store"] for a in madrid} == {MADRID} and len(madrid) == 2
        still_open = api.get("/fleet/api/alarms", params={"open": "true"}, headers=AS_MADRID).json()["alarms"]
        assert [a["kind"] for a in still_open] == ["request_unanswered"]
        [reader] = [a for a in madrid if a["kind"] == "reader_offline"]
        unsent = "http://127.0.0.1:9/unreachable", "manager@madrid.example"  # no delivery runs here
        assert sorted((n["route"], n["event"], n["state"]) for n in reader["notices"]) == [
            (route, event, "waiting") for route in unsent for event in ("cleared", "raised")]
        assert api.get("/fleet/api/alarms", headers={"X-Api-Key": KEYS["web"]}).status_code == 403

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(f"{hq.url}/fleet/")
            sign_in(page, KEYS["madrid-staff"])
            log = page.locator("#alarms")
            expect(log.locator("tbody tr")).to_have_count(2)  # Madrid's only
            expect(page.locator("#alarms-open")).to_have_text("1")
            late = log.locator("tr.alarm.open")
            expect(late).to_contain_text("Request unanswered")
            expect(late).to_contain_text("Madrid Centro, the store")
            cleared = log.locator("tr.alarm:not(.open)")
            expect(cleared).to_contain_text("Reader offline")
            expect(cleared).to_contain_text("Madrid Centro · kiosk-01")
            expect(cleared.locator(".notice.waiting")).to_have_count(4)
            expect(cleared.locator(".notice.waiting").first).to_contain_text("not sent yet")
            expect(log).not_to_contain_text("Barcelona")
            target = SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path
            log.screenshot(path=str(target / "dashboard-alarms.png"))
        finally:
            browser.close()
