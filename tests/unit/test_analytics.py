"""The pure parts of HQ's analytics: ranges, the funnel's depth, opening hours in UTC, the time
they cover, and CSV that no spreadsheet runs."""

from __future__ import annotations

import csv
import datetime as dt
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hq._analytics import FUNNEL, funnel_depth
from hq._analytics_api import answer_csv
from hq._analytics_models import TopProduct, TopProducts
from hq._analytics_queries import AnalyticsRange, RangeRefused
from hq._uptime import covered_seconds, opening_intervals

TODAY = date(2026, 3, 15)
RANGES = [  # (from, to, first, last)
    ("2026-03-01", "2026-03-31", date(2026, 3, 1), date(2026, 3, 31)),
    (None, None, date(2026, 2, 14), TODAY),
    ("2026-03-10", None, date(2026, 3, 10), TODAY),
    (None, "2026-03-01", date(2026, 1, 31), date(2026, 3, 1)),
    ("2025-03-16", "2026-03-16", date(2025, 3, 16), date(2026, 3, 16)),  # 366 days
]
REFUSED = [("2026-03-02", "2026-03-01"), ("2026-02-29", None), ("1/3/2026", None), ("2025-03-15", "2026-03-16"),
           (None, "2026-03-01T10:00"), ("", "x")]


@pytest.mark.parametrize(("first", "last", "want_first", "want_last"), RANGES)
def test_a_range_is_local_days_both_included(first: str | None, last: str | None, want_first: date,
                                            want_last: date) -> None:
    span = AnalyticsRange.parse(first, last, "madrid-centro", today=TODAY)
    assert (span.first, span.last, span.store) == (want_first, want_last, "madrid-centro")


@pytest.mark.parametrize(("first", "last"), REFUSED)
def test_a_range_that_is_not_one_is_refused(first: str | None, last: str | None) -> None:
    with pytest.raises(RangeRefused):
        AnalyticsRange.parse(first, last, today=TODAY)


@pytest.mark.parametrize(("done", "depth"), [
    ((), 0), (("viewed",), 1), (("viewed", "suggested"), 2), (("viewed", "kept"), 1),
    (("viewed", "suggested", "kept", "ordered"), 4), (("suggested", "kept", "ordered"), 0),
    (("viewed", "suggested", "ordered"), 2)])
def test_a_visit_reaches_a_step_only_through_every_step_before_it(done: tuple[str, ...], depth: int) -> None:
    assert funnel_depth({flag: flag in done for flag in FUNNEL}) == depth


MADRID = ZoneInfo("Europe/Madrid")


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_opening_hours_follow_the_stores_clock_across_a_change_of_time() -> None:
    spells = lambda day: [(dt.time(10), dt.time(14))] if day.weekday() < 6 else []  # noqa: E731
    found = opening_intervals(spells, MADRID, date(2026, 3, 28), date(2026, 3, 30), _utc(31, 0))
    # Saturday at UTC+1; closed on Sunday, when the clocks go forward; Monday at UTC+2.
    assert found == [(_utc(28, 9), _utc(28, 13)), (_utc(30, 8), _utc(30, 12))]
    around_the_clock = opening_intervals(lambda day: [(dt.time.min, dt.time.max)], MADRID, date(2026, 3, 29),
                                         date(2026, 3, 29), _utc(31, 0))
    assert around_the_clock == [(datetime(2026, 3, 28, 23, tzinfo=UTC), _utc(29, 22))]  # a day of 23 hours
    assert opening_intervals(spells, MADRID, date(2026, 3, 30), date(2026, 3, 30), _utc(30, 10)) == [
        (_utc(30, 8), _utc(30, 10))]  # none of it after now


def test_online_time_counts_once_where_spans_overlap_and_only_while_open() -> None:
    opening = [(_utc(2, 9), _utc(2, 13)), (_utc(2, 16), _utc(2, 20))]
    spans = [(_utc(2, 8), _utc(2, 10)), (_utc(2, 9, 30), _utc(2, 11)), (_utc(2, 12), _utc(2, 17)),
             (_utc(2, 21), _utc(2, 22))]
    assert covered_seconds(opening, spans) == (2 + 1 + 1) * 3600
    assert covered_seconds(opening, []) == 0


def test_csv_quotes_what_a_spreadsheet_would_run() -> None:
    answer = TopProducts.model_validate({"from": "2026-03-01", "to": "2026-03-31", "store": None, "rows": [
        TopProduct(sku="BOOT-1", name=name, category=category, taps=3, visits=2, wishlisted=1, reserved=0, ordered=1,
                   conversion=0.5) for name, category in (("=HYPERLINK(\"http://x\")", "+1"), ("@SUM(A1)", "-2"),
                                                          ("Botín, negro", "\tcalzado"))]})
    rows = list(csv.reader(io.StringIO(answer_csv(answer))))
    assert rows[0] == ["sku", "name", "category", "taps", "visits", "wishlisted", "reserved", "ordered", "conversion"]
    assert [row[1:3] for row in rows[1:]] == [["'=HYPERLINK(\"http://x\")", "'+1"], ["'@SUM(A1)", "'-2"],
                                               ["Botín, negro", "'\tcalzado"]]
    assert rows[1][3:] == ["3", "2", "1", "0", "1", "0.5"]
