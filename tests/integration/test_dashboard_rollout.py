"""The dashboard's software rollout in real Chromium: a halted rollout's reason and progress,
each kiosk's running and target release, resume for HQ's staff; a store's manager may look
but not halt or resume (403 over a real request)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, FleetView, Grant, KeyRole, ProfileStore, RolloutWatch, SoftwarePublisher, create_app
from kiosk_app.demo import free_port
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in
from testkit.fleet_status import report
from testkit.mosquitto import Mosquitto
from testkit.releases import small_wheel
from testkit.waiting import eventually

MADRID, SEVILLA = "madrid-centro", "sevilla-nervion"
KEYS = {"hq": "hq-key-0123456789abcdef0", "madrid-staff": "madrid-key-0123456789ab"}
AS_HQ, AS_MADRID = {"X-Api-Key": KEYS["hq"]}, {"X-Api-Key": KEYS["madrid-staff"]}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
expect.set_options(timeout=20_000)


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, ProfileStore, FleetView, Path]]:
    wheels = tmp_path / "wheels"
    small_wheel(wheels, "nfc_kiosk-1.5.0-py3-none-any.whl")
    bundles = tmp_path / "bundles"
    publisher = SoftwarePublisher(bundles, Ed25519PrivateKey.generate())
    for label in ("1.4.0", "1.4.1", "1.4.2", "1.4.3", "1.4.4", "1.4.5", "1.5.0"):  # release 7 is 1.5.0
        publisher.publish_software(wheels, label)
    store = ProfileStore(sqlite_url)
    fleet = FleetView(mosquitto.url)
    fleet.start()
    assert fleet.subscribed.wait(10)
    server = ApiServer(create_app(store, ApiKeys(KEYS, grants={"madrid-staff": Grant(KeyRole.STORE, MADRID)}),
                                  fleet=fleet), port=free_port())
    server.start()
    yield server.url, store, fleet, bundles
    fleet.stop()
    server.stop()
    store.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1280, "height": 800})
        browser.close()


def test_the_rollout_panel_shows_why_it_halted_and_staff_resume_it_where_a_manager_may_not(
        hq: tuple[str, ProfileStore, FleetView, Path], mosquitto: Mosquitto, page: Page, tmp_path: Path) -> None:
    url, store, fleet, bundles = hq
    for kiosk in ("kiosk-01", "kiosk-02", "kiosk-03"):
        report(mosquitto.port, MADRID, kiosk, software_release=6)
    report(mosquitto.port, SEVILLA, "kiosk-01", software_release=6)
    report(mosquitto.port, SEVILLA, "kiosk-02", software_release=6)
    assert eventually(lambda: len(fleet.kiosks()) == 5)
    fleet.recheck()
    fleet.recheck()
    watch = RolloutWatch(store.rollouts, fleet, bundles, soak_s=0)
    store.rollouts.start(7, "1.5.0", [(MADRID, "kiosk-01"), (SEVILLA, "kiosk-02")], 50, datetime.now(UTC))
    watch.round()
    report(mosquitto.port, MADRID, "kiosk-01", software_release=7)
    report(mosquitto.port, MADRID, "kiosk-02", software_release=7, software_on_trial=True)  # switched, not yet proven
    report(mosquitto.port, SEVILLA, "kiosk-02", software_release=6, software_failed=7,
           software_problem="the window sent no heartbeat within 180 s")
    assert eventually(lambda: fleet.kiosk(SEVILLA, "kiosk-02").status.software_failed == 7)  # type: ignore[union-attr]
    watch.round()  # halts

    with httpx.Client(base_url=url, timeout=30) as api:
        assert api.post("/fleet/api/rollout/resume", headers=AS_MADRID).status_code == 403
        assert api.post("/fleet/api/rollout/halt", headers=AS_MADRID, json={}).status_code == 403
        seen = api.get("/fleet/api/rollout", headers=AS_MADRID).json()
        assert seen["may_command"] is False and seen["rollout"]["state"] == "halted"
        assert [(t["store"], t["kiosk"], t["state"]) for t in seen["rollout"]["targets"]] == [
            (MADRID, "kiosk-01", "on_release")]  # a manager sees their store's kiosks only
        everything = api.get("/fleet/api/rollout", headers=AS_HQ).json()
        assert everything["may_command"] is True
        assert everything["rollout"]["counts"] == {"targets": 2, "on_release": 1, "failed": 1, "waiting": 0}
        kiosks = {(k["store"], k["kiosk"]): k for k in api.get("/fleet/api/kiosks", headers=AS_HQ).json()["kiosks"]}
        assert kiosks[(MADRID, "kiosk-01")]["software_target"] == 7  # it runs it
        assert kiosks[(SEVILLA, "kiosk-02")]["software_target"] == 0  # taken back
        assert api.post("/fleet/api/rollout/halt", headers=AS_HQ, json={}).json()["error"] == "not_running"

    page.goto(f"{url}/fleet/")
    sign_in(page, KEYS["hq"])
    panel = page.locator("#rollout")
    expect(panel).to_be_visible()
    expect(panel.locator("#rollout-release")).to_have_text("Release 7 · 1.5.0")
    expect(panel.locator("#rollout-state")).to_have_text("Halted")
    expect(panel.locator("#rollout-reason")).to_have_text(
        "Halted: sevilla-nervion/kiosk-02 switched back from release 7: the window sent no heartbeat within 180 s")
    expect(panel.locator("#rollout-counts")).to_contain_text("1 of 2 kiosks of this stage run it · 1 switched back")
    expect(panel.locator("li[aria-current='step']")).to_have_text("Canary (2 kiosks)")
    sevilla = page.locator(f"section.store[data-store='{SEVILLA}']")
    expect(sevilla.locator("tr[data-kiosk='kiosk-02'] td.software")).to_have_text("r6 r7 failed")
    madrid = page.locator(f"section.store[data-store='{MADRID}']")
    expect(madrid.locator("tr[data-kiosk='kiosk-01'] td.software")).to_have_text("r7")
    expect(madrid.locator("tr[data-kiosk='kiosk-02'] td.software")).to_have_text("r7 on trial")
    expect(page.get_by_role("button", name="Halt rollout")).to_be_hidden()
    shot = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / "dashboard-rollout.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000

    page.get_by_role("button", name="Resume rollout").click()
    expect(panel.locator("#rollout-state")).to_have_text("Running")
    expect(panel.locator("#rollout-reason")).to_be_hidden()
    expect(page.get_by_role("button", name="Halt rollout")).to_be_visible()
    watch.round()  # the canary stage is done without the kiosk that failed: half of each store next
    rollout = store.rollouts.current()
    assert rollout is not None and rollout.stage.value == "percent"


def test_a_store_managers_dashboard_shows_the_rollout_without_its_buttons(
        hq: tuple[str, ProfileStore, FleetView, Path], mosquitto: Mosquitto, page: Page) -> None:
    url, store, fleet, _ = hq
    report(mosquitto.port, MADRID, "kiosk-01", software_release=6)
    assert eventually(lambda: fleet.kiosk(MADRID, "kiosk-01") is not None)
    store.rollouts.start(7, "1.5.0", [(MADRID, "kiosk-01")], 50, datetime.now(UTC))

    page.goto(f"{url}/fleet/")
    sign_in(page, KEYS["madrid-staff"])

    expect(page.locator("#rollout-state")).to_have_text("Running")
    expect(page.locator("tr[data-kiosk='kiosk-01'] td.software")).to_have_text("r6 → r7")
    expect(page.get_by_role("button", name="Halt rollout")).to_be_hidden()
    expect(page.get_by_role("button", name="Resume rollout")).to_be_hidden()
