"""Drives the unfinished rollout, a round at a time, from the fleet view's statuses.

Each round the release's signed manifest goes, retained, to the software topic of every kiosk
of the rollout's stage that has not had it from this process (a restart sends them again: the
same retained message twice is one). A stage whose every kiosk runs the release, for the soak
time, gives way to the next. A kiosk that switched back from the release halts the rollout;
a halted rollout (by a kiosk or by staff) is taken back from each of its kiosks that does not
run it yet: an empty retained message, "no release wanted", so none installs it meanwhile.

Nothing is decided before the fleet view has heard the fleet (``FleetView.settled``): a fresh
process knows no kiosk, and a stage of "every kiosk" would be a stage of none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from hq._fleet import FleetView
from hq._releases import release_envelope
from hq._rollout_stages import Advance, Halt, KioskKey, Progress, RolloutState, assess, decide, stage_targets
from hq._rollouts import Rollout, RolloutLog
from hq._rounds import Rounds
from hq.exceptions import PublishRefused
from kiosk_protocol import KioskStatus, SyncError

log = logging.getLogger(__name__)


@dataclass
class RolloutWatchStats:
    """What this process's watch did."""

    sent: int = 0  # release manifests the broker took for a kiosk
    taken_back: int = 0  # "no release wanted" after a halt
    advanced: int = 0
    halted: int = 0
    rounds_failed: int = 0  # the database or the broker out of reach: tried again at the next round


def rollout_targets(rollout: Rollout, statuses: dict[KioskKey, KioskStatus]) -> set[KioskKey]:
    """The kiosks the rollout's stage sends its release to, less those it was resumed without."""
    return stage_targets(rollout.release, rollout.stage, rollout.canary, rollout.percent,
                         statuses.keys()) - set(rollout.left_out)


def rollout_progress(rollout: Rollout, statuses: dict[KioskKey, KioskStatus]) -> Progress:
    """How far the rollout's stage is, as people are shown it: the kiosks left out count as the failed they are."""
    return assess(rollout.release, stage_targets(rollout.release, rollout.stage, rollout.canary, rollout.percent,
                                                 statuses.keys()), statuses)


class RolloutWatch:
    """Sends, advances, halts and takes back the unfinished rollout, in a thread; ``start``, then ``stop``."""

    def __init__(self, rollouts: RolloutLog, fleet: FleetView, releases_dir: Path, soak_s: float = 600.0,
                 round_s: float = 5.0, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.rollouts, self.fleet = rollouts, fleet
        self.stats = RolloutWatchStats()
        self._releases_dir = releases_dir
        self._soak = timedelta(seconds=soak_s)
        self._clock = clock
        self._following: int | None = None  # the rollout the sets below are of
        self._envelope: bytes | None = None
        self._sent: set[KioskKey] = set()
        self._cleared: set[KioskKey] = set()
        self._rounds = Rounds("hq-rollout-watch", round_s, self.round, self._round_failed, log,
                              "rollout not driven this round", (SQLAlchemyError, SyncError))

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()

    def round(self) -> None:
        """Look at the unfinished rollout's kiosks once: decide, then send or take back."""
        rollout = self.rollouts.current()
        if rollout is None or rollout.state is RolloutState.DONE or not self.fleet.settled.is_set():
            return
        if rollout.id != self._following:
            self._following, self._sent, self._cleared = rollout.id, set(), set()
            try:
                self._envelope = release_envelope(self._releases_dir, rollout.release)
            except PublishRefused as exc:  # nothing to send: halted, and taken back from those it reached
                self._envelope = None
                self._halt(rollout, str(exc))
                rollout = self.rollouts.get(rollout.id) or rollout
        statuses = {view.key: view.status for view in self.fleet.kiosks()}
        self.rollouts.note_progress(rollout, rollout_progress(rollout, statuses).counts())
        if rollout.state is RolloutState.RUNNING:  # on without the kiosks left out
            rollout = self._decide(rollout, assess(rollout.release, rollout_targets(rollout, statuses), statuses))
        if rollout.state is RolloutState.RUNNING and self._envelope is not None:
            self._send(rollout, statuses, self._envelope)
        elif rollout.state is RolloutState.HALTED:
            self._take_back(rollout, statuses)

    def _decide(self, rollout: Rollout, progress: Progress) -> Rollout:
        """Halt or advance the rollout as its kiosks call for; the rollout as it is now."""
        now = self._clock()
        decision = decide(rollout.release, rollout.stage, progress, rollout.stage_started_at, now, self._soak)
        if isinstance(decision, Halt):
            self._halt(rollout, decision.reason, sorted(progress.failed))
        elif isinstance(decision, Advance) and self.rollouts.advance(rollout, now):
            self.stats.advanced += 1
            log.info("rollout of release %d: %s stage done, now %s", rollout.release, rollout.stage.value,
                     decision.to.value)
        return self.rollouts.get(rollout.id) or rollout

    def _halt(self, rollout: Rollout, reason: str, failed: Sequence[KioskKey] = ()) -> None:
        if self.rollouts.halt(rollout, reason, self._clock(), failed):
            self.stats.halted += 1
            log.warning("rollout of release %d halted: %s", rollout.release, reason)

    def _send(self, rollout: Rollout, statuses: dict[KioskKey, KioskStatus], envelope: bytes) -> None:
        for store, kiosk in sorted(rollout_targets(rollout, statuses) - self._sent):
            self.fleet.want_software(store, kiosk, envelope)
            self._sent.add((store, kiosk))
            self._cleared.discard((store, kiosk))
            self.stats.sent += 1
            log.info("release %d sent to %s/%s", rollout.release, store, kiosk)

    def _take_back(self, rollout: Rollout, statuses: dict[KioskKey, KioskStatus]) -> None:
        # Those left out too: the kiosks that just failed are to hear "no release wanted" as well.
        reached = stage_targets(rollout.release, rollout.stage, rollout.canary, rollout.percent,
                                statuses.keys()) | self._sent
        for store, kiosk in sorted(reached - self._cleared):
            status = statuses.get((store, kiosk))
            if status is not None and status.software_release == rollout.release:
                continue  # it runs the release, healthy: it keeps it
            self.fleet.want_software(store, kiosk, b"")
            self._cleared.add((store, kiosk))
            self._sent.discard((store, kiosk))
            self.stats.taken_back += 1
            log.info("release %d taken back from %s/%s", rollout.release, store, kiosk)

    def _round_failed(self) -> None:
        self.stats.rounds_failed += 1
