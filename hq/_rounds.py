"""A watch's rounds: one every few seconds on a thread of its own, from ``start`` to ``stop``.

A round that fails (the database or the broker out of reach, or a bug) is counted and
logged, and the next one is tried: a watch never dies of one bad round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Rounds:
    """Calls ``round`` every ``every_s`` until stopped; ``on_failure`` hears of each round that raised."""

    def __init__(self, name: str, every_s: float, round: Callable[[], None], on_failure: Callable[[], None],
                 log: logging.Logger, not_done: str, expected: tuple[type[Exception], ...]) -> None:
        self._every_s, self._round, self._on_failure = every_s, round, on_failure
        self._log, self._not_done, self._expected = log, not_done, expected
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stopping.wait(self._every_s):
            try:
                self._round()
            except self._expected as exc:
                self._on_failure()
                self._log.error("%s: %s", self._not_done, exc)
            except Exception:  # the watch goes on: the next round may do better
                self._on_failure()
                self._log.exception(self._not_done)
