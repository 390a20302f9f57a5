"""The rollouts of kiosk software releases, as HQ's database keeps them (``ProfileStore.rollouts``).

At most one rollout is unfinished (running or halted) at a time, for every HQ process: its
row holds the unique ``open_key`` until it is done. Each change is a conditional update, so a
watch's advance and an operator's halt at the same moment do not undo each other: the one
that finds the rollout as it expected wins, the other sees what happened and goes on from there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hq._rollout_stages import NEXT_STAGE, KioskKey, RolloutState, Stage
from hq._schema import rollouts
from hq.exceptions import RolloutRefused

_OPEN = "open"
_KIOSK = re.compile(r"^([a-z0-9][a-z0-9-]{0,63})/([a-z0-9][a-z0-9-]{0,63})$")
_REASON_LENGTH = 300


def parse_kiosk(text: str) -> KioskKey:
    """``store/kiosk`` as a key.

    Raises:
        RolloutRefused: not two ids of ``[a-z0-9-]`` joined by ``/``.
    """
    found = _KIOSK.fullmatch(text.strip())
    if found is None:
        raise RolloutRefused(f"{text!r} is not a kiosk: name it as STORE/KIOSK, like madrid-centro/kiosk-01")
    return found[1], found[2]


@dataclass(frozen=True)
class Rollout:
    """One rollout of one release."""

    id: int
    release: int
    label: str
    canary: tuple[KioskKey, ...]
    percent: int
    stage: Stage
    state: RolloutState
    stage_started_at: datetime
    halted_reason: str | None
    left_out: tuple[KioskKey, ...]  # switched back from it, and the rollout resumed without them
    progress: Mapping[str, int]  # the watch's last counts (targets, on_release, failed, waiting)
    created_at: datetime
    updated_at: datetime


class RolloutLog:
    """The rollouts table."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def start(self, release: int, label: str, canary: Sequence[KioskKey], percent: int, now: datetime) -> Rollout:
        """Start rolling ``release`` out, at its canary stage.

        Raises:
            RolloutRefused: no canary, a percentage not 1 to 100, or another rollout unfinished.
        """
        if not canary:
            raise RolloutRefused("name at least one canary kiosk (--canary STORE/KIOSK): the release goes there first")
        if not 1 <= percent <= 100:
            raise RolloutRefused(f"the percentage is of each store's kiosks, 1 to 100, not {percent}")
        current = self.current()
        if current is not None and current.state is not RolloutState.DONE:
            raise RolloutRefused(_unfinished(current))
        try:
            with self._engine.begin() as db:
                rollout_id = db.execute(rollouts.insert().values(
                    release=release, label=label, canary=_keys_json(canary), percent=percent,
                    stage=Stage.CANARY.value, state=RolloutState.RUNNING.value, stage_started_at=now,
                    left_out="[]", open_key=_OPEN, created_at=now, updated_at=now)
                    .returning(rollouts.c.id)).scalar_one()
        except IntegrityError as exc:  # another HQ process started one in between
            unfinished = self.current()
            raise RolloutRefused(_unfinished(unfinished) if unfinished else "another rollout started") from exc
        rollout = self.get(rollout_id)
        assert rollout is not None
        return rollout

    def current(self) -> Rollout | None:
        """The unfinished rollout, else the last one (None: there never was one)."""
        with self._engine.connect() as db:
            row = db.execute(sa.select(rollouts).order_by(rollouts.c.open_key.is_(None), rollouts.c.id.desc())
                             .limit(1)).first()
        return _rollout(row._mapping) if row else None

    def get(self, rollout_id: int) -> Rollout | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).first()
        return _rollout(row._mapping) if row else None

    def advance(self, rollout: Rollout, now: datetime) -> bool:
        """Take a running rollout from its stage to the next (the last: done); False if it was not
        running at that stage any more."""
        to = NEXT_STAGE[rollout.stage]
        done = to is Stage.DONE
        return self._change(rollout, RolloutState.RUNNING, now, stage=to.value, stage_started_at=now,
                            **({"state": RolloutState.DONE.value, "open_key": None} if done else {}))

    def halt(self, rollout: Rollout, reason: str, now: datetime, failed: Sequence[KioskKey] = ()) -> bool:
        """Halt a running rollout; False if it was not running. The kiosks that ``failed`` (switched
        back from the release) are left out of it from now on: a resume goes on without them."""
        return self._change(rollout, RolloutState.RUNNING, now, state=RolloutState.HALTED.value,
                            halted_reason=reason[:_REASON_LENGTH], stage=rollout.stage.value,
                            left_out=_keys_json(sorted({*rollout.left_out, *failed})))

    def resume(self, rollout: Rollout, now: datetime) -> bool:
        """Resume a halted rollout at its stage, its soak time counted anew (the kiosks that failed
        stay left out); False if it was not halted."""
        return self._change(rollout, RolloutState.HALTED, now, state=RolloutState.RUNNING.value, halted_reason=None,
                            stage=rollout.stage.value, stage_started_at=now)

    def abandon(self, rollout: Rollout, now: datetime) -> bool:
        """Finish a halted rollout where it stopped, for another release to start; False if it was not halted.
        Its kiosks keep what they run; those it never reached were told it is not wanted when it halted."""
        return self._change(rollout, RolloutState.HALTED, now, state=RolloutState.DONE.value, open_key=None,
                            stage=rollout.stage.value)

    def note_progress(self, rollout: Rollout, counts: Mapping[str, int]) -> None:
        """Keep the watch's last counts, for ``kiosk hq rollout status`` (which has no fleet view)."""
        if dict(rollout.progress) == dict(counts):
            return
        with self._engine.begin() as db:
            db.execute(rollouts.update().where(rollouts.c.id == rollout.id)
                       .values(progress=json.dumps(dict(counts), sort_keys=True)))

    def _change(self, rollout: Rollout, expected: RolloutState, now: datetime, stage: str, **values: Any) -> bool:
        with self._engine.begin() as db:
            changed = db.execute(rollouts.update().where(
                rollouts.c.id == rollout.id, rollouts.c.state == expected.value,
                rollouts.c.stage == rollout.stage.value).values(stage=stage, updated_at=now, **values)).rowcount
        return bool(changed)


def _unfinished(rollout: Rollout) -> str:
    return (f"rollout of release {rollout.release} ({rollout.label}) is {rollout.state.value} at its "
            f"{rollout.stage.value} stage: let it finish, or halt and abandon it (`kiosk hq rollout abandon`), "
            "before starting another")


def _keys_json(keys: Sequence[KioskKey]) -> str:
    return json.dumps([f"{store}/{kiosk}" for store, kiosk in keys])


def _keys(text: str) -> tuple[KioskKey, ...]:
    return tuple(parse_kiosk(item) for item in json.loads(text))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive times


def _rollout(row: sa.RowMapping) -> Rollout:
    return Rollout(id=row["id"], release=row["release"], label=row["label"], canary=_keys(row["canary"]),
                   percent=row["percent"], stage=Stage(row["stage"]), state=RolloutState(row["state"]),
                   stage_started_at=_utc(row["stage_started_at"]), halted_reason=row["halted_reason"],
                   left_out=_keys(row["left_out"]), progress=json.loads(row["progress"] or "{}"),
                   created_at=_utc(row["created_at"]), updated_at=_utc(row["updated_at"]))
