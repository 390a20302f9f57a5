"""Applies HQ's updates (catalog or model) on a worker thread, one at a time, retrying
refused or failed updates later with backoff; a newer manifest replaces any waiting retry."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from kiosk_protocol import Refusal, UpdateRefused

log = logging.getLogger(__name__)

_RETRY_FIRST_S = 60.0
_RETRY_MAX_S = 900.0
# Refusals that no retry of the same manifest can cure.
_FINAL = {Refusal.BAD_SIGNATURE, Refusal.NOT_NEWER, Refusal.MALFORMED, Refusal.WRONG_KIND, Refusal.FAILED_HERE}


Applied = TypeVar("Applied")


class UpdateWorker(Generic[Applied]):
    """Feeds manifests to ``apply`` (which raises UpdateRefused or returns what it applied,
    e.g. the new catalog) and hands each result to ``on_applied``."""

    def __init__(self, apply: Callable[[bytes], Applied], on_applied: Callable[[Applied], None],
                 on_problem: Callable[[str], None], retry_first_s: float = _RETRY_FIRST_S) -> None:
        self._apply = apply
        self._on_applied = on_applied
        self._on_problem = on_problem
        self._retry_first_s = retry_first_s
        self._pending: bytes | None = None
        self._wake = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="catalog-updates", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the update under way, if any."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        self._thread.join(5)

    def offer(self, envelope: bytes) -> None:
        """A manifest arrived (retained ones arrive on every reconnect)."""
        with self._wake:
            self._pending = envelope
            self._wake.notify()

    def _run(self) -> None:
        retry_in = self._retry_first_s
        while True:
            with self._wake:
                while self._pending is None and not self._stop:
                    self._wake.wait()
                if self._stop or self._pending is None:
                    return
                envelope, self._pending = self._pending, None
            try:
                self._on_applied(self._apply(envelope))
                self._on_problem("")
                retry_in = self._retry_first_s
            except UpdateRefused as refusal:
                if refusal.reason is Refusal.NOT_NEWER:
                    continue  # the retained manifest of the version already in use
                self._on_problem(str(refusal))
                if refusal.reason not in _FINAL:
                    self._retry_later(envelope, retry_in)
                    retry_in = min(retry_in * 2, _RETRY_MAX_S)

    def _retry_later(self, envelope: bytes, delay_s: float) -> None:
        def retry() -> None:
            with self._wake:
                if self._pending is None:  # a newer manifest takes precedence
                    self._pending = envelope
                    self._wake.notify()

        timer = threading.Timer(delay_s, retry)
        timer.daemon = True
        timer.start()
        log.info("catalog update will be retried in %.0f s", delay_s)
