"""HQ's software releases taken into one kiosk under its supervisor: ``SoftwareUpdates``.

A release HQ's rollout sends this kiosk is installed beside the running one off the screen's
thread (``SoftwareUpdater``). Once no shopper is using the kiosk, it notes the switch on
trial, points ``current`` at the release and ends with ``SWITCH_EXIT``; its supervisor starts
it again on the release. There, the release proves itself part by part (window, reader,
broker, then a self-test tap), or the supervisor switches back and this module, on the
release before, reports why. The status names the release whose code is running: where
this very module was loaded from, not what HQ asked for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend_sync import SoftwareUpdater
from kiosk_app._self_test import self_test_tap
from kiosk_app._software_slots import HEALTH_PARTS, SoftwareSlots, Trial
from kiosk_app._updates import UpdateWorker
from kiosk_app.kiosk import Kiosk, TapOutcome
from kiosk_app.session import Mode
from kiosk_protocol import HEALTH_WINDOW_S, Manifest

log = logging.getLogger(__name__)

Dispatch = Callable[[Callable[[], None]], None]


class SoftwareUpdates:
    """One kiosk's part in HQ's software rollouts.

    Args:
        software_dir: the supervisor's software folder (``_software_slots``).
        on_switch: called on the screen's thread to end the kiosk for a switch (with ``SWITCH_EXIT``).
        on_problem: called whenever what the status says of the software changes.
    """

    def __init__(self, software_dir: Path, hq_key: Ed25519PublicKey, files_url: str, kiosk: Kiosk,
                 dispatch: Dispatch, on_switch: Callable[[], None], on_problem: Callable[[], None]) -> None:
        self.slots = SoftwareSlots(software_dir)
        self.running = self.slots.running(__file__)
        self.failure = self.slots.failure()
        self.refusal = ""  # why the release HQ sent last is not installed ("" when it is, or none came)
        self.ready: Manifest | None = None  # installed beside the running one, waiting for an idle kiosk
        self._wanted = False  # HQ still wants the release it sent last
        self.updater = SoftwareUpdater(software_dir, hq_key, files_url, self.running,
                                       failed=lambda: self.failure.release if self.failure else 0)
        self.worker = UpdateWorker(self.updater.apply, self._installed, self._refused)
        self._kiosk = kiosk
        self._dispatch = dispatch
        self._on_switch = on_switch
        self._on_problem = on_problem
        trial = self.slots.trial()
        self._trial = trial if trial is not None and trial.release == self.running else None
        self._checking = threading.Lock()
        if self._trial is not None:
            log.info("release %d on trial: %d s to pass its health check", self.running, self._trial.health_window_s)

    @property
    def on_trial(self) -> bool:
        """Whether the running release is still to prove itself."""
        return self._trial is not None

    @property
    def failed(self) -> int:
        """The last release that failed its health check here (0: none)."""
        return self.failure.release if self.failure else 0

    @property
    def problem(self) -> str:
        """What the status says went wrong with HQ's software ("" when nothing did)."""
        failed = (f"release {self.failure.release} switched back: {self.failure.reason}"
                  if self.failure and self.failure.release > self.running else "")
        return "; ".join(text for text in (self.refusal, failed) if text)

    def start(self) -> None:
        """Start installing what HQ sends."""
        self.worker.start()

    def stop(self) -> None:
        """Stop after the install under way, if any."""
        self.worker.stop()

    def take_manifest(self, envelope: bytes) -> None:
        """HQ's rollout sent this kiosk a release (empty: took it back, so it is not switched to)."""
        self._wanted = bool(envelope)
        if envelope:
            self.worker.offer(envelope)
        elif self.ready is not None:
            log.info("release %d taken back by HQ: staying on release %d", self.ready.version, self.running)
            self.ready = None

    def passed(self, part: str) -> None:
        """A part of the health check is well (ignored when no release is on trial)."""
        if self._trial is None or part in self.slots.health(self.running) or self.slots.trial() is None:
            return  # nothing on trial, this part noted, or the supervisor already judged the release
        log.info("release %d health check: %s", self.running, part)
        self.slots.passed(self.running, part)
        if all(p in self.slots.health(self.running) for p in HEALTH_PARTS[:-1]) and self._checking.acquire(False):
            threading.Thread(target=self._self_test, name="self-test tap", daemon=True).start()

    def switch_if_idle(self) -> bool:
        """Switch to the installed release if nobody is using the kiosk (on the screen's thread); True if it did."""
        ready = self.ready
        if ready is None or self._kiosk.machine.mode not in (Mode.IDLE, Mode.LOCKED):
            return False
        window = self.updater.staged_release.health_window_s if self.updater.staged_release else HEALTH_WINDOW_S
        log.info("switching from release %d to release %d", self.running, ready.version)
        self.slots.start_trial(Trial(ready.version, self.running, window))
        self.slots.point_current(ready.version)
        self.ready = None
        self._on_switch()
        return True

    def _installed(self, manifest: Manifest) -> None:
        log.info("release %d installed beside release %d", manifest.version, self.running)
        self.ready = manifest if self._wanted else None

    def _refused(self, problem: str) -> None:
        if problem != self.refusal:
            self.refusal = problem
            self._on_problem()

    def _self_test(self) -> None:
        try:
            problem = self_test_tap(self._kiosk, self._on_screen_thread)
        except Exception as exc:  # whatever breaks in the release is its failure, said to HQ
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            self.slots.passed(self.running, HEALTH_PARTS[-1])
            log.info("release %d passed its self-test tap", self.running)
            self._trial = None  # every part passed: proven, which HQ's rollout hears at once
            self._on_problem()
        else:
            log.error("release %d self-test tap failed: %s", self.running, problem)
            self.slots.trouble(self.running, f"self-test tap: {problem}")

    def _on_screen_thread(self, work: Callable[[], TapOutcome]) -> TapOutcome:
        done: Future[TapOutcome] = Future()

        def run() -> None:
            try:
                done.set_result(work())
            except Exception as exc:  # the release's own error, for its failure's reason
                done.set_exception(exc)

        self._dispatch(run)
        return done.result(timeout=30)
