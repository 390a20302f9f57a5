"""A rollout's stages, as pure logic: which kiosks each stage sends a release to, how far
they are with it, and what the rollout does next.

    canary    the kiosks HQ named
    percent   and in each store the first ceil(P% of its kiosks), by a ranking of their own
    all       and every kiosk of the fleet
    done      every kiosk of the fleet ran it

Each kiosk's rank is ``sha256("<release>:<store>/<kiosk>")``: fixed for a release, so the
same kiosks go first however often HQ restarts, and a different first few for each release,
so no one kiosk is every release's guinea pig. A stage is done once each of its kiosks runs
the release and the soak time has passed since the stage started; one kiosk switching back
from the release halts the whole rollout.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from kiosk_protocol import KioskStatus

KioskKey = tuple[str, str]  # (store, kiosk)


class Stage(enum.Enum):
    """How far a rollout has gone."""

    CANARY = "canary"
    PERCENT = "percent"
    ALL = "all"
    DONE = "done"


NEXT_STAGE = {Stage.CANARY: Stage.PERCENT, Stage.PERCENT: Stage.ALL, Stage.ALL: Stage.DONE}
_ORDER = list(Stage)


class RolloutState(enum.Enum):
    """Whether a rollout goes on."""

    RUNNING = "running"
    HALTED = "halted"  # a kiosk switched back from the release, or someone halted it
    DONE = "done"


def rank(release: int, kiosk: KioskKey) -> str:
    """A kiosk's place in the queue for ``release``: lowest first."""
    return hashlib.sha256(f"{release}:{kiosk[0]}/{kiosk[1]}".encode()).hexdigest()


def percent_picks(release: int, percent: int, fleet: Iterable[KioskKey]) -> set[KioskKey]:
    """In each store, the first ceil(``percent``% of its kiosks) by rank: at least one per store."""
    picked: set[KioskKey] = set()
    for _, kiosks in groupby(sorted(set(fleet)), key=lambda key: key[0]):
        ranked = sorted(kiosks, key=lambda key: rank(release, key))
        picked.update(ranked[:-(-percent * len(ranked) // 100)])
    return picked


def stage_targets(release: int, stage: Stage, canary: Collection[KioskKey], percent: int,
                  fleet: Collection[KioskKey]) -> set[KioskKey]:
    """Every kiosk the release goes to by ``stage`` (each stage keeps those of the stages before)."""
    targets = set(canary)
    if _ORDER.index(stage) >= _ORDER.index(Stage.PERCENT):
        targets |= percent_picks(release, percent, fleet)
    if _ORDER.index(stage) >= _ORDER.index(Stage.ALL):
        targets |= set(fleet)
    return targets


@dataclass(frozen=True)
class Progress:
    """Where a stage's kiosks are with the release."""

    targets: frozenset[KioskKey]
    on_release: frozenset[KioskKey]  # report running it
    failed: Mapping[KioskKey, str]  # switched back from it, with why
    waiting: frozenset[KioskKey]  # neither yet (downloading, waiting to be idle, offline, not yet heard of)

    def counts(self) -> dict[str, int]:
        return {"targets": len(self.targets), "on_release": len(self.on_release), "failed": len(self.failed),
                "waiting": len(self.waiting)}


def assess(release: int, targets: Collection[KioskKey], statuses: Mapping[KioskKey, KioskStatus]) -> Progress:
    """How far ``targets`` are with ``release``, by their statuses (a kiosk never heard of is waiting)."""
    on, failed, waiting = set(), {}, set()
    for key in sorted(targets):
        status = statuses.get(key)
        if status is not None and status.software_release == release and not status.software_on_trial:
            on.add(key)  # runs it, and it passed its health check
        elif status is not None and status.software_failed == release:
            failed[key] = status.software_problem or "no reason given"
        else:
            waiting.add(key)
    return Progress(frozenset(targets), frozenset(on), failed, frozenset(waiting))


@dataclass(frozen=True)
class Halt:
    reason: str


@dataclass(frozen=True)
class Advance:
    to: Stage


Decision = Halt | Advance | None  # None: the stage goes on


def decide(release: int, stage: Stage, progress: Progress, stage_started_at: datetime, now: datetime,
           soak: timedelta) -> Decision:
    """What a running rollout does after this look at its kiosks."""
    if progress.failed:
        key, problem = next(iter(sorted(progress.failed.items())))
        more = len(progress.failed) - 1
        return Halt(f"{key[0]}/{key[1]} switched back from release {release}: {problem}"
                    + (f" (and {more} more kiosk{'s' if more > 1 else ''})" if more else ""))
    if stage is not Stage.DONE and not progress.waiting and now - stage_started_at >= soak:
        return Advance(NEXT_STAGE[stage])
    return None
