"""Hybrid logical clocks: timestamps that order changes made on different devices
(kiosks, the web shop, the app) without trusting their wall clocks to agree.

A timestamp is (wall milliseconds, counter, node). ``HlcClock.now`` never goes back
and moves past anything it has ``observe``d, so a change made after seeing another is
always ordered after it. The text form is fixed-width, so it sorts the same as text
(in SQL too) as it does as a tuple.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_TEXT = re.compile(r"^(\d{15})-(\d{6})-([a-z0-9][a-z0-9.-]{0,63})$")


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


class HlcClock:
    """The clock of one node (a kiosk, HQ's API)."""

    def __init__(self, node: str, wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.node = node
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
                self._last = Hlc(self._last.wall_ms, self._last.counter + 1, self.node)
            return self._last

    def observe(self, remote: Hlc) -> None:
        """Move past a timestamp seen from another node."""
        with self._lock:
            if (remote.wall_ms, remote.counter) > (self._last.wall_ms, self._last.counter):
                self._last = Hlc(remote.wall_ms, remote.counter, self.node)
