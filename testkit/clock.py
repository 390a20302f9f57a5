"""Clocks the test moves by hand, for the parts that take one (``SessionMachine(clock=...)``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Monotonic seconds that stand still until the test sets ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AheadClock:
    """Wall-clock time (aware, UTC) moved on by ``ahead``, for parts that wait minutes."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead
