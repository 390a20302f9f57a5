"""Late requests on the fleet dashboard, with real parts: HQ's app on uvicorn over SQLite,
its fleet view on a real Mosquitto, the dashboard in a headless Chromium. Requests made
through the API that nobody takes within the set time raise an alert on their store,
live; taking them on the staff page clears it, live.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/dashboard-request-alert.png.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from hq import (
    ApiKeys,
    ApiServer,
    FleetView,
    Grant,
    KeyRole,
    ProfileStore,
    RequestWatch,
    StaffPage,
    StaffSessions,
    create_app,
)
from hq._staff_sessions import STAFF_COOKIE
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import KioskStatus, LinkState, load_catalog
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.clock import AheadClock
from testkit.dashboard import sign_in
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0", "madrid-staff": "madrid-key-0123456789ab"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro")}
STORE = "madrid-centro"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
expect.set_options(timeout=20_000)


@dataclass
class Hq:
    url: str
    store: ProfileStore
    fleet: FleetView
    clock: AheadClock
    web: httpx.Client


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str) -> Iterator[Hq]:
    store = ProfileStore(sqlite_url)
    store.stock.load_catalog(load_catalog(demo_catalog_path()))
    clock = AheadClock()
    fleet = FleetView(mosquitto.url)
    fleet.watch_requests(RequestWatch(store.reservations, 5, stores=lambda: [STORE], clock=clock).alerts)
    fleet.start()
    assert fleet.subscribed.wait(10)
    keys = ApiKeys(KEYS, grants=GRANTS)
    staff = StaffPage(store, StaffSessions(keys, None))
    server = ApiServer(create_app(store, keys, fleet=fleet, staff=staff), port=free_port())
    server.start()
    with httpx.Client(base_url=server.url, headers={"X-Api-Key": KEYS["web"]}, timeout=30) as web:
        yield Hq(server.url, store, fleet, clock, web)
    staff.close()
    fleet.stop()
    server.stop()
    store.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1360, "height": 700})
        browser.close()


def _kiosks_report(port: int, *kiosks: str) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kiosks-reporting")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for kiosk in kiosks:
        status = KioskStatus(state=LinkState.ONLINE, store=STORE, kiosk=kiosk, app_version="1.4.0",
                             catalog_version=42, backlog=0, reader="online", at=datetime.now(UTC))
        client.publish(f"kiosk/{STORE}/{kiosk}/status", status.model_dump_json().encode(), qos=1,
                       retain=True).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_a_request_nobody_takes_in_time_raises_an_alert_on_its_store(
        hq: Hq, mosquitto: Mosquitto, page: Page, tmp_path: Path) -> None:
    _kiosks_report(mosquitto.port, "kiosk-01", "kiosk-02")
    assert eventually(lambda: len(hq.fleet.kiosks()) == 2, 10)
    made = [hq.web.post(f"/v1/stores/{STORE}/reservations",
                        json={"sku": sku, "size": size, "kind": "fitting_room"}).json()["id"]
            for sku, size in (("BOOT-CHELSEA-BLK", "41"), ("COAT-WOOL-GRY", "M"))]
    page.goto(f"{hq.url}/fleet/")
    sign_in(page, KEYS["hq"])
    madrid = page.locator(f"section.store[data-store='{STORE}']")
    expect(madrid.locator("tbody tr")).to_have_count(2)
    hq.fleet.recheck()  # a round with both requests just asked: nothing is late
    assert hq.fleet.store_alerts() == []
    expect(madrid.locator(".store-alerts .alert")).to_have_count(0)

    hq.clock.ahead = timedelta(minutes=6)  # nobody has taken them: the next round raises the alert, live
    alert = madrid.locator(".store-alerts .alert.request_waiting")
    expect(alert).to_contain_text("2 requests not taken for 5 min or more")
    expect(page.locator("#sum-alerts")).to_have_text("1")
    expect(madrid.get_by_role("link", name="Open the staff page")).to_have_attribute("href", f"/staff/?store={STORE}")
    assert [a.kind.value for a in hq.fleet.store_alerts()[0].alerts] == ["request_waiting"]
    fleet_json = hq.web.get("/fleet/api/kiosks", headers={"X-Api-Key": KEYS["hq"]}).json()
    assert [(s["store"], s["alerts"][0]["kind"]) for s in fleet_json["stores"]] == [(STORE, "request_waiting")]
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / "dashboard-request-alert.png"
    page.screenshot(path=str(target), full_page=True)

    # Staff take one on their page: one is still late; the other taken too, the alert goes.
    staff = httpx.Client(base_url=hq.url, timeout=30)
    assert staff.post("/staff/session", json={"credential": KEYS["madrid-staff"]}).status_code == 204
    assert STAFF_COOKIE in staff.cookies
    assert staff.post(f"/staff/api/{STORE}/requests/{made[0]}/take").status_code == 200
    expect(alert).to_contain_text("1 request not taken for 5 min or more")
    assert staff.post(f"/staff/api/{STORE}/requests/{made[1]}/take").status_code == 200
    expect(madrid.locator(".store-alerts .alert")).to_have_count(0)
    expect(page.locator("#sum-alerts")).to_have_text("0")
    expect(madrid.locator("tbody tr")).to_have_count(2)
    staff.close()
