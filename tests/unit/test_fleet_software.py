"""What the fleet view makes of a kiosk's software: a newer release that failed its health
check and was switched back is an alert, and an alarm of a failed update."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hq import AlarmKey, AlarmKind, FleetThresholds, KioskView
from hq._alarm_watch import fleet_problems
from hq._fleet import AlertKind, kiosk_alerts
from kiosk_protocol import KioskStatus

NOW = datetime(2026, 12, 14, 11, 0, tzinfo=UTC)


def status(**fields: object) -> KioskStatus:
    return KioskStatus.model_validate({"state": "online", "store": "madrid-centro", "kiosk": "kiosk-01",
                                       "at": NOW.isoformat(), **fields})


@pytest.mark.parametrize(("running", "failed", "alerted"), [
    (0, 0, False),  # the release installed with the kiosk, nothing ever failed
    (6, 0, False),
    (6, 7, True),  # 7 failed, 6 runs again
    (0, 7, True),
    (8, 7, False),  # 7 failed once, but 8 runs now: history, not a problem
    (7, 7, False),  # the same release runs: a retry that passed
])
def test_a_failed_release_newer_than_the_running_one_is_an_alert(running: int, failed: int, alerted: bool) -> None:
    alerts = kiosk_alerts(status(software_release=running, software_failed=failed,
                                 software_problem="no heartbeat from the window within 180 s"),
                          NOW, NOW, FleetThresholds())

    assert [a.kind for a in alerts] == ([AlertKind.SOFTWARE_FAILED] if alerted else [])
    if alerted:
        assert alerts[0].message == (f"Software release {failed} switched back: "
                                     "no heartbeat from the window within 180 s")


def test_a_failed_release_without_a_reason_still_says_so() -> None:
    [alert] = kiosk_alerts(status(software_failed=3), NOW, NOW, FleetThresholds())

    assert alert.message == "Software release 3 switched back: no reason given"


def test_a_switched_back_release_raises_the_failed_update_alarm() -> None:
    kiosk = status(software_release=6, software_failed=7, software_problem="the reader did not start")
    view = KioskView(kiosk, NOW, kiosk_alerts(kiosk, NOW, NOW, FleetThresholds()))

    assert fleet_problems([view], []) == {
        AlarmKey("madrid-centro", "kiosk-01", AlarmKind.UPDATE_FAILED):
            "Software release 7 switched back: the reader did not start"}


def test_the_kiosk_json_carries_its_software() -> None:
    view = KioskView(status(software_release=6, software_on_trial=True, software_failed=7, software_problem="crashed"),
                     NOW, ())

    assert {k: v for k, v in view.to_json().items() if k.startswith("software")} == {
        "software_release": 6, "software_on_trial": True, "software_failed": 7, "software_problem": "crashed"}
