"""The rule for late requests on the fleet dashboard: held this long or longer raises one
alert per kiosk it was asked at (when the fleet knows that kiosk), else one on its store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hq import AlertKind
from hq._request_alerts import WaitingRequest, waiting_alerts

NOW = datetime(2026, 12, 1, 18, 30, tzinfo=UTC)
AFTER = timedelta(minutes=5)
KNOWN = {("madrid-centro", "kiosk-01"), ("madrid-centro", "kiosk-02")}


def _asked(store: str, kiosk: str | None, minutes_ago: float) -> WaitingRequest:
    return WaitingRequest(store, kiosk, NOW - timedelta(minutes=minutes_ago))


def test_a_request_younger_than_the_limit_raises_nothing() -> None:
    alerts = waiting_alerts([_asked("madrid-centro", "kiosk-01", 4.9)], NOW, AFTER, KNOWN)
    assert alerts.kiosks == {} and alerts.stores == {}


def test_late_requests_go_on_the_row_of_the_kiosk_they_were_asked_at() -> None:
    alerts = waiting_alerts([_asked("madrid-centro", "kiosk-01", 5), _asked("madrid-centro", "kiosk-01", 12),
                             _asked("madrid-centro", "kiosk-02", 1)], NOW, AFTER, KNOWN)
    assert list(alerts.kiosks) == [("madrid-centro", "kiosk-01")] and alerts.stores == {}
    alert = alerts.kiosks[("madrid-centro", "kiosk-01")]
    assert alert.kind is AlertKind.REQUEST_WAITING
    assert alert.message == "2 requests not taken for 5 min or more (waiting since 18:18 UTC)"


def test_requests_asked_online_or_at_a_kiosk_the_fleet_does_not_know_go_on_the_store() -> None:
    alerts = waiting_alerts([_asked("madrid-centro", None, 6), _asked("madrid-centro", "kiosk-09", 7),
                             _asked("barcelona-diagonal", "kiosk-01", 30)], NOW, AFTER, KNOWN)
    assert alerts.kiosks == {}
    assert {store: alert.message for store, alert in alerts.stores.items()} == {
        "barcelona-diagonal": "1 request not taken for 5 min or more (waiting since 18:00 UTC)",
        "madrid-centro": "2 requests not taken for 5 min or more (waiting since 18:23 UTC)",
    }
