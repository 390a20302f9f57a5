"""Uptime's online time within opening hours, by one sweep, against a count minute by minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hq._uptime import covered_seconds

DAY = datetime(2026, 11, 2, tzinfo=UTC)
MINUTES = 3 * 24 * 60

minute_spans = st.lists(st.tuples(st.integers(0, MINUTES), st.integers(1, 600)), max_size=25)


def _intervals(spans: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
    return [(DAY + timedelta(minutes=start), DAY + timedelta(minutes=start + length)) for start, length in spans]


def _disjoint(spans: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
    """Opening hours: disjoint, as ``opening_intervals`` makes them."""
    found, until = [], -1
    for start, length in sorted(spans):
        if start > until:
            found.append((start, length))
            until = start + length
    return _intervals(found)


@settings(max_examples=300, deadline=None)
@given(opening=minute_spans, online=minute_spans)
def test_covered_time_is_the_minutes_open_and_online(opening: list[tuple[int, int]],
                                                     online: list[tuple[int, int]]) -> None:
    within, spans = _disjoint(opening), _intervals(online)

    def minutes(intervals: list[tuple[datetime, datetime]]) -> set[int]:
        return {m for start, end in intervals for m in range(int((start - DAY).total_seconds() // 60),
                                                              int((end - DAY).total_seconds() // 60))}

    assert covered_seconds(within, spans) == len(minutes(within) & minutes(spans)) * 60
