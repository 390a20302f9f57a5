"""The short chaos run (the long one is benchmarks/sync_chaos.py): kiosk processes
publish while the broker is SIGKILLed and restarted, a kiosk is SIGKILLed mid-drain
and restarted, and the link is cut. HQ must end with exactly the events sent."""

from __future__ import annotations

from pathlib import Path

from testkit.chaos import run_chaos
from testkit.mosquitto import Mosquitto


def test_nothing_lost_nothing_doubled_through_kills_and_cuts(mosquitto: Mosquitto, tmp_path: Path) -> None:
    report = run_chaos(mosquitto, tmp_path, kiosks=3, events_per_kiosk=300, rate=60.0,
                       broker_kills=2, kiosk_kills=1, link_cuts=2, timeout_s=120)
    assert (report.lost, report.duplicated) == (0, 0), report
    assert report.stored == report.expected == 900
    assert report.link_cuts == 2
