"""The kiosk's supervisor: runs ``kiosk run`` on the release ``current`` names, and switches
back on its own when a new release does not prove itself.

It is the code installed with the kiosk and never one a release brought, so a release
that cannot start, freezes or fails its health check cannot take the switch-back with it.
A release on trial must pass every part of its health check (window up, reader and broker
connected, a self-test tap through the emulator) within the window its release names; if
it exits first, or the window passes, or a supervisor finds a trial it had already started
(the kiosk died on it, or lost power), the release before it is made current again, the
failure is written down for the kiosk to report, and the kiosk starts again on it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from kiosk_app._software_slots import HEALTH_PARTS, SOFTWARE_DIR_ENV, SWITCH_EXIT, SoftwareSlots, Trial

log = logging.getLogger(__name__)

_POLL_S = 0.5  # how often a trial's health notes are read: the kiosk writes each part once
_STOP_GRACE_S = 20.0
# -P: the working directory's own packages never stand in for the release's
KIOSK_COMMAND = (sys.executable, "-P", "-m", "kiosk_app")


class Supervisor:
    """Runs ``kiosk <kiosk_args>`` on the current release, again after each switch."""

    def __init__(self, software_dir: Path, kiosk_args: Sequence[str], command: Sequence[str] = KIOSK_COMMAND) -> None:
        self.slots = SoftwareSlots(software_dir)
        self._command = [*command, *kiosk_args]
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def run(self) -> int:
        """Run the kiosk until it ends other than by a switch; its exit code."""
        while not self._stopping.is_set():
            self._give_up_a_dead_trial()
            trial = self.slots.trial()
            release = self.slots.current
            if trial is not None and trial.release == release:
                self.slots.start_trial(Trial(trial.release, trial.previous, trial.health_window_s, started=True))
            self._child = child = self._start(release)
            if trial is not None and trial.release == release:
                problem = self._watch_trial(child, trial)
                if problem is not None:
                    self._stop_child(child)
                    self._switch_back(trial, problem)
                    continue
                log.info("release %d is healthy", release)
                self.slots.end_trial()
            code = child.wait()
            if code != SWITCH_EXIT or self._stopping.is_set():
                return code
            log.info("the kiosk switched to release %d: starting it", self.slots.current)
        return 0

    def stop(self) -> None:
        """Stop the kiosk (systemd's SIGTERM) and then this loop."""
        self._stopping.set()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()

    def _start(self, release: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, SOFTWARE_DIR_ENV: str(self.slots.root)}
        if release:  # the release's packages ahead of the installed ones
            env["PYTHONPATH"] = str(self.slots.site(release).resolve())
        else:
            env.pop("PYTHONPATH", None)
        log.info("starting the kiosk on %s", f"release {release}" if release else "the installed software")
        return subprocess.Popen(self._command, env=env)

    def _watch_trial(self, child: subprocess.Popen[bytes], trial: Trial) -> str | None:
        """Wait for the release on trial to pass its health check; what went wrong, or None."""
        deadline = time.monotonic() + trial.health_window_s
        while True:
            passed = self.slots.health(trial.release)
            if all(part in passed for part in HEALTH_PARTS):
                return None
            if problem := self.slots.health_problem(trial.release):
                return problem
            code = child.poll()
            if code is not None:
                return f"the kiosk exited with code {code} before it was healthy"
            if self._stopping.is_set():
                return "stopped before it was healthy"
            if time.monotonic() > deadline:
                missing = ", ".join(part.replace("_", "-") for part in HEALTH_PARTS if part not in passed)
                return f"not healthy within {trial.health_window_s} s: no {missing}"
            time.sleep(_POLL_S)

    def _stop_child(self, child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _switch_back(self, trial: Trial, problem: str) -> None:
        log.error("release %d failed its health check (%s): back to %s", trial.release, problem,
                  f"release {trial.previous}" if trial.previous else "the installed software")
        self.slots.fail(trial.release, problem)
        self.slots.point_current(trial.previous)
        self.slots.end_trial()

    def _give_up_a_dead_trial(self) -> None:
        trial = self.slots.trial()
        if trial is None:
            return
        if trial.release != self.slots.current:  # a switch cut short before ``current`` moved
            self.slots.end_trial()
        elif trial.started:
            self._switch_back(trial, "the kiosk stopped before it was healthy")


def supervise(software_dir: Path, kiosk_args: Sequence[str]) -> int:
    """Run the supervisor until systemd stops it; SIGTERM and SIGINT stop the kiosk first."""
    supervisor = Supervisor(software_dir, kiosk_args)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: supervisor.stop())
    return supervisor.run()
