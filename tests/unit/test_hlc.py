"""Hybrid logical clocks: monotonic, causal, and sortable as text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk_protocol.hlc import MAX_AHEAD_MS, MAX_COUNTER, MAX_WALL_MS, Hlc, HlcClock


def test_clock_never_goes_back_even_when_the_wall_clock_does() -> None:
    walls = iter([1000, 1000, 900, 1200])
    clock = HlcClock("kiosk-01", wall_ms=lambda: next(walls))
    stamps = [clock.now() for _ in range(4)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    assert stamps[2] == Hlc(1000, 2, "kiosk-01")  # the wall went back; the clock did not


def test_a_change_made_after_seeing_another_is_ordered_after_it() -> None:
    fast = HlcClock("web", wall_ms=lambda: 5_000)
    slow = HlcClock("kiosk-01", wall_ms=lambda: 1_000)  # ten minutes behind, say
    seen = fast.now()
    slow.observe(seen)
    assert slow.now() > seen


@given(st.integers(0, 10**14), st.integers(0, 999_999), st.integers(0, 10**14), st.integers(0, 999_999))
def test_text_sorts_like_the_timestamp(wall_a: int, count_a: int, wall_b: int, count_b: int) -> None:
    a, b = Hlc(wall_a, count_a, "a"), Hlc(wall_b, count_b, "a")
    assert (str(a) < str(b)) == (a < b)
    assert Hlc.parse(str(a)) == a


@pytest.mark.parametrize("text", ["", "123-1-x", "000000000000001-000001-", "000000000000001-000001-X Y"])
def test_bad_text_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HLC"):
        Hlc.parse(text)


def test_a_full_counter_rolls_into_the_wall_instead_of_overflowing() -> None:
    clock = HlcClock("hq-api", wall_ms=lambda: 1_000)
    assert clock.observe(Hlc(1_000, MAX_COUNTER, "kiosk-01"))
    stamp = clock.now()
    assert stamp == Hlc(1_001, 0, "hq-api") and Hlc.parse(str(stamp)) == stamp
    with pytest.raises(ValueError, match="no HLC timestamp follows"):
        Hlc(MAX_WALL_MS, MAX_COUNTER, "kiosk-01").successor("hq-api")


def test_a_stamp_too_far_ahead_is_not_followed() -> None:
    clock = HlcClock("hq-api", wall_ms=lambda: 1_000)
    assert not clock.observe(Hlc(1_000 + MAX_AHEAD_MS + 1, 0, "kiosk-01"))  # a forged stamp, or a clock in 2100
    assert clock.observe(Hlc(1_000 + MAX_AHEAD_MS, 0, "kiosk-02"))  # within the skew HQ tolerates
    assert clock.now() == Hlc(1_000 + MAX_AHEAD_MS, 1, "hq-api")
    assert clock.after(Hlc(MAX_WALL_MS, MAX_COUNTER, "kiosk-01")).wall_ms == 1_000 + MAX_AHEAD_MS


def test_a_stamp_after_one_profile_s_newest_does_not_move_the_clock_for_others() -> None:
    clock = HlcClock("hq-api", wall_ms=lambda: 1_000)
    ahead = Hlc(301_000, 5, "kiosk-01")  # one shopper's kiosk runs five minutes fast
    assert clock.after(ahead) == Hlc(301_000, 6, "hq-api")
    assert clock.after(None).wall_ms == 1_000  # the next shopper's change is stamped by HQ's own clock
    assert clock.after(Hlc(500, 0, "web")) > Hlc(1_000, 0, "hq-api")
