"""Hybrid logical clocks: monotonic, causal, and sortable as text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend_sync.hlc import Hlc, HlcClock


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
