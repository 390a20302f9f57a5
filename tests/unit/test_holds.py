"""The pure rules of stock and holds: how long a hold lasts by kind, what is free of a size,
and the digest a repeated stock feed is recognised by."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hq._reservations import ReservationKind, ReservationRefused, hold_length
from hq._stock import SizeStock, feed_digest

LENGTHS = [
    (ReservationKind.FITTING_ROOM, None, timedelta(minutes=20)),
    (ReservationKind.FITTING_ROOM, 120, timedelta(minutes=120)),
    (ReservationKind.COLLECT, None, timedelta(days=2)),
    (ReservationKind.COLLECT, 7 * 24 * 60, timedelta(days=7)),
]


@pytest.mark.parametrize(("kind", "minutes", "lasts"), LENGTHS)
def test_a_hold_lasts_its_kinds_default_or_what_it_asks(kind: ReservationKind, minutes: int | None,
                                                        lasts: timedelta) -> None:
    assert hold_length(kind, minutes) == lasts


@pytest.mark.parametrize(("kind", "minutes"), [(ReservationKind.FITTING_ROOM, 121),
                                               (ReservationKind.COLLECT, 7 * 24 * 60 + 1)])
def test_a_hold_past_its_kinds_bound_is_refused(kind: ReservationKind, minutes: int) -> None:
    with pytest.raises(ReservationRefused) as refused:
        hold_length(kind, minutes)
    assert (refused.value.status, refused.value.error) == (422, "hold_too_long")


def test_what_is_free_is_never_below_none() -> None:
    assert SizeStock("BOOT", "40", units=5, held=2).available == 3
    assert SizeStock("BOOT", "40", units=1, held=3).available == 0  # a feed set units below what is held


def test_a_feed_is_the_same_in_any_order_and_other_with_any_other_figure() -> None:
    assert feed_digest({"A": {"40": 1, "41": 2}, "B": {"U": 0}}) == feed_digest({"B": {"U": 0},
                                                                                 "A": {"41": 2, "40": 1}})
    assert feed_digest({"A": {"40": 1}}) != feed_digest({"A": {"40": 2}})
    assert feed_digest({"A": {"40": 1}}) != feed_digest({"A": {"41": 1}})
