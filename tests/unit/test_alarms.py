"""The alarms' pure parts: which alerts are alarms, a store's hours on its own clock, the SMTP
server's URL, the addresses routes take, and a notice as a webhook body and as an e-mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hq import Alarm, AlarmKey, AlarmKind, AlarmRoute, FleetThresholds, HqError, SmtpServer
from hq._alarm_delivery import email_of, webhook_body, webhook_id
from hq._alarm_log import Notice, NoticeEvent, check_address
from hq._alarm_watch import fleet_problems, is_open
from hq._fleet import Alert, AlertKind, KioskView, StoreAlerts, kiosk_alerts
from kiosk_protocol import KioskStatus, Store

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
MADRID = Store.model_validate({"id": "madrid-centro", "name": "Madrid Centro", "time_zone": "Europe/Madrid",
                               "opening_hours": {"mon": [{"opens": "10:00", "closes": "14:00"},
                                                         {"opens": "17:00", "closes": "21:00"}]}})


def status(**fields: object) -> KioskStatus:
    return KioskStatus.model_validate({"state": "online", "store": "madrid-centro", "kiosk": "kiosk-01",
                                       "at": NOW.isoformat(), **fields})


def test_the_alerts_someone_must_hear_of_are_alarms_and_the_dashboards_own_are_not() -> None:
    view = KioskView(status(), NOW, (Alert(AlertKind.SILENT, "No heartbeat for 95 s"),
                                     Alert(AlertKind.READER_OFFLINE, "NFC reader is offline"),
                                     Alert(AlertKind.LOCKED, "Out of service: locked by staff"),
                                     Alert(AlertKind.CATALOG_FALLBACK, "Running on an older catalog")))
    store = StoreAlerts("madrid-centro", (Alert(AlertKind.REQUEST_WAITING, "1 request not taken"),))

    assert fleet_problems([view], [store]) == {
        AlarmKey("madrid-centro", "kiosk-01", AlarmKind.OFFLINE): "No heartbeat for 95 s",
        AlarmKey("madrid-centro", "kiosk-01", AlarmKind.READER_OFFLINE): "NFC reader is offline",
        AlarmKey("madrid-centro", "", AlarmKind.REQUEST_UNANSWERED): "1 request not taken",
    }


def test_a_disk_is_nearly_full_below_the_threshold_and_full_says_full_only() -> None:
    thresholds = FleetThresholds(disk_low_mb=500)
    kinds = [[a.kind for a in kiosk_alerts(status(**fields), NOW, NOW, thresholds)]
             for fields in ({"disk_free_mb": 499}, {"disk_free_mb": 500}, {"disk_free_mb": 3, "disk_full": True}, {})]

    assert kinds == [[AlertKind.DISK_LOW], [], [AlertKind.DISK_FULL], []]


@pytest.mark.parametrize(("utc", "open_"), [
    ("2026-12-07T08:59:00", False),  # 09:59 in Madrid, Monday
    ("2026-12-07T09:00:00", True),
    ("2026-12-07T12:59:59", True),
    ("2026-12-07T13:00:00", False),  # the lunch break
    ("2026-12-07T16:30:00", True),
    ("2026-12-07T20:00:00", False),  # 21:00: closed
    ("2026-12-08T10:00:00", False),  # Tuesday is not listed: closed all day
    ("2026-06-01T08:30:00", True),  # 10:30 in summer time (UTC+2)
    ("2026-06-01T07:30:00", False),
])
def test_a_store_is_open_by_its_hours_on_its_own_clock(utc: str, open_: bool) -> None:
    assert MADRID.is_open_at(datetime.fromisoformat(utc).replace(tzinfo=UTC)) is open_
    assert is_open([MADRID], "madrid-centro", datetime.fromisoformat(utc).replace(tzinfo=UTC)) is open_


def test_a_store_with_no_hours_or_not_in_the_catalog_is_always_open() -> None:
    around_the_clock = Store(id="online-shop", name="Web")
    assert around_the_clock.is_open_at(datetime(2026, 12, 8, 3, 0, tzinfo=UTC))
    assert is_open([MADRID], "barcelona-diagonal", datetime(2026, 12, 8, 3, 0, tzinfo=UTC))


def test_the_smtp_server_comes_from_its_url_and_never_shows_its_password() -> None:
    server = SmtpServer.from_url("smtp://alarms%40shop:p%40ss word@mail.shop.example", "hq@shop.example")
    assert (server.host, server.port, server.implicit_tls, server.username, server.password) == (
        "mail.shop.example", 587, False, "alarms@shop", "p@ss word")
    assert "p@ss" not in repr(server) and not server.local
    tls = SmtpServer.from_url("smtps://mail.shop.example", "hq@shop.example")
    assert (tls.port, tls.implicit_tls) == (465, True)
    assert SmtpServer.from_url("smtp://127.0.0.1:25", "hq@shop.example").local
    assert SmtpServer.from_url("smtp://[::1]:25", "hq@shop.example").local
    for url, sender in [("http://mail.shop.example", "hq@shop.example"), ("smtp://", "hq@shop.example"),
                        ("smtp://mail.shop.example:99999", "hq@shop.example"), ("smtp://mail.example", "hq")]:
        with pytest.raises(HqError):
            SmtpServer.from_url(url, sender)


@pytest.mark.parametrize("address", ["manager@madrid.example", "ops+alarms@shop.example.co.uk"])
def test_a_route_takes_one_address(address: str) -> None:
    assert check_address(address) == address


@pytest.mark.parametrize("address", ["manager", "manager@localhost", "a@b@c.example", "Ops <ops@shop.example>",
                                     "ops@shop.example, all@shop.example", "ops@shop.example\nBcc: x@y.example",
                                     "ops @shop.example", "x" * 65 + "@shop.example"])
def test_a_route_refuses_what_is_not_one_address(address: str) -> None:
    with pytest.raises(HqError, match="not an e-mail address"):
        check_address(address)


def notice(event: NoticeEvent, cleared: datetime | None = None, kiosk: str = "kiosk-01") -> Notice:
    alarm = Alarm(7, AlarmKey("madrid-centro", kiosk, AlarmKind.BACKLOG_HIGH), "1200 events waiting to reach HQ",
                  NOW, cleared)
    return Notice(alarm, AlarmRoute(2, "madrid-centro", None, None, "manager@madrid.example"), event, 0, None)


def test_a_notice_as_a_webhook_body_says_what_and_when() -> None:
    cleared = notice(NoticeEvent.CLEARED, datetime(2026, 12, 7, 11, 42, tzinfo=UTC))
    body = json.loads(webhook_body(cleared, NOW))

    assert body == {"type": "alarm.cleared", "timestamp": NOW.isoformat(), "data": {
        "alarm": 7, "store": "madrid-centro", "kiosk": "kiosk-01", "kind": "backlog_high",
        "message": "1200 events waiting to reach HQ", "raised_at": "2026-12-07T11:00:00+00:00",
        "cleared_at": "2026-12-07T11:42:00+00:00"}}
    assert webhook_id(cleared) == "alarm_7_cleared"


def test_a_notice_as_an_email_reads_on_the_stores_clock_and_asks_for_no_auto_reply() -> None:
    raised = email_of(notice(NoticeEvent.RAISED), "hq@shop.example", ZoneInfo("Europe/Madrid"))
    assert raised["Subject"] == "Alarm: madrid-centro, kiosk-01: 1200 events waiting to reach HQ"
    assert raised["To"] == "manager@madrid.example" and raised["Auto-Submitted"] == "auto-generated"
    assert raised.get_content().splitlines() == [
        "Store: madrid-centro", "Kiosk: kiosk-01", "Alarm: 1200 events waiting to reach HQ (backlog_high)",
        "Raised: 2026-12-07 12:00:00 CET"]
    cleared = email_of(notice(NoticeEvent.CLEARED, datetime(2026, 12, 7, 11, 42, tzinfo=UTC), kiosk=""),
                       "hq@shop.example", ZoneInfo("Europe/Madrid"))
    assert cleared["Subject"] == "Cleared: madrid-centro: 1200 events waiting to reach HQ"
    assert cleared.get_content().splitlines()[1:] == [
        "Kiosk: the store itself", "Alarm: 1200 events waiting to reach HQ (backlog_high)",
        "Raised: 2026-12-07 12:00:00 CET", "Cleared: 2026-12-07 12:42:00 CET, after 42 min"]
