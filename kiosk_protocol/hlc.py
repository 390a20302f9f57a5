"""Hybrid logical clocks: timestamps that order changes made on different devices
(kiosks, the web shop, the app) without trusting their wall clocks to agree.

A timestamp is (wall milliseconds, counter, node). ``HlcClock.now`` never goes back
and moves past anything it has ``observe``d, so a change made after seeing another is
always ordered after it. The text form is fixed-width, so it sorts the same as text
(in SQL too) as it does as a tuple.

A clock follows another node's timestamp only when it is at most ``MAX_AHEAD_MS``
ahead of its own wall clock (the skew the catalog updates tolerate): one node whose
clock is far ahead, or a forged timestamp, must not drag every later stamp with it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk_protocol._manifest import MAX_CLOCK_SKEW_S

_TEXT = re.compile(r"^(\d{15})-(\d{6})-([a-z0-9][a-z0-9.-]{0,63})$")
MAX_COUNTER = 999_999  # the counter's six digits
MAX_WALL_MS = 10**15 - 1  # the wall's fifteen digits
MAX_AHEAD_MS = MAX_CLOCK_SKEW_S * 1000


def wall_clock_ms() -> int:
    """This machine's wall clock, in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, order=True)
class Hlc:
    """One hybrid logical timestamp."""

    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:015d}-{self.counter:06d}-{self.node}"

    @classmethod
    def parse(cls, text: str) -> Hlc:
        """Read the text form.

        Raises:
            ValueError: not an HLC timestamp.
        """
        match = _TEXT.match(text)
        if match is None:
            raise ValueError(f"not an HLC timestamp: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))

    def successor(self, node: str) -> Hlc:
        """The next timestamp of ``node`` after this one; a full counter rolls into the wall.

        Raises:
            ValueError: this is the last timestamp the text form can spell.
        """
        if self.counter < MAX_COUNTER:
            return Hlc(self.wall_ms, self.counter + 1, node)
        if self.wall_ms >= MAX_WALL_MS:
            raise ValueError(f"no HLC timestamp follows {self}")
        return Hlc(self.wall_ms + 1, 0, node)

    def ahead_of(self, wall_ms: int) -> int:
        """How many milliseconds this timestamp is ahead of ``wall_ms`` (negative when behind)."""
        return self.wall_ms - wall_ms


class HlcClock:
    """The clock of one node (a kiosk, HQ's API)."""

    def __init__(self, node: str, wall_ms: Callable[[], int] = wall_clock_ms,
                 max_ahead_ms: int = MAX_AHEAD_MS) -> None:
        self.node = node
        self.max_ahead_ms = max_ahead_ms
        self._wall_ms = wall_ms
        self._last = Hlc(0, 0, node)
        self._lock = threading.Lock()

    def now(self) -> Hlc:
        """A timestamp after every one this clock has given or observed."""
        with self._lock:
            wall = self._wall_ms()
            if wall > self._last.wall_ms:
                self._last = Hlc(wall, 0, self.node)
            else:
                self._last = self._last.successor(self.node)
            return self._last

    def too_far_ahead(self, remote: Hlc) -> bool:
        """Whether ``remote`` is further ahead of this clock's wall than it may follow."""
        return remote.ahead_of(self._wall_ms()) > self.max_ahead_ms

    def observe(self, remote: Hlc) -> bool:
        """Move past a timestamp seen from another node; False (and not moved) when it is too far ahead."""
        if self.too_far_ahead(remote):
            return False
        with self._lock:
            if (remote.wall_ms, remote.counter) > (self._last.wall_ms, self._last.counter):
                self._last = Hlc(remote.wall_ms, remote.counter, self.node)
        return True

    def after(self, newest: Hlc | None) -> Hlc:
        """A fresh timestamp that is also after ``newest`` (one profile's newest change).

        Unlike ``observe``, the clock itself does not move: a stamp that follows one
        shopper's changes never pushes another shopper's stamps forward. A ``newest`` too
        far ahead is not followed (see ``too_far_ahead``).
        """
        stamp = self.now()
        if newest is None or self.too_far_ahead(newest) or (newest.wall_ms, newest.counter) < (
                stamp.wall_ms, stamp.counter):
            return stamp
        return newest.successor(self.node)
