"""The dashboard's rollout routes: the unfinished (else the last) software rollout with each of its
kiosks, and its halt and resume for HQ's staff; and the release each kiosk is being sent.

A store's manager sees the rollout and their store's kiosks in it, but may not halt or resume
it: a rollout is the whole fleet's. No ``from __future__ import annotations`` here: FastAPI
reads the routes' ``Caller`` alias, local to ``rollout_router``, from the signature itself.
"""

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from hq._api_models import ApiError, error_responses
from hq._auth import ApiKeys
from hq._dashboard import FleetCaller, fleet_caller_check, fleet_channel_check
from hq._fleet import FleetView
from hq._rollout_stages import KioskKey, RolloutState
from hq._rollout_watch import rollout_progress, rollout_targets
from hq._rollouts import Rollout, RolloutLog
from hq.exceptions import ApiRefusal

log = logging.getLogger(__name__)

_TARGETS_KEPT_S = 2.0  # every kiosk's heartbeat asks for its target: one database read per this, not per beat


class TargetOut(BaseModel):
    """One kiosk of the rollout's stage."""

    store: str
    kiosk: str
    running: int | None = Field(description="The release it runs (0: the one installed with it; None: never heard)")
    state: Literal["on_release", "failed", "waiting"]
    problem: str = Field("", description="Why it switched back from the release")


class RolloutOut(BaseModel):
    """A rollout: its release, where it stands, and its stage's kiosks (those the caller sees)."""

    release: int
    label: str
    stage: Literal["canary", "percent", "all", "done"]
    state: Literal["running", "halted", "done"]
    percent: int
    canary: list[str]
    left_out: list[str] = Field(description="Kiosks that switched back from the release: the rollout goes on "
                                            "without them")
    halted_reason: str | None
    stage_started_at: datetime
    created_at: datetime
    updated_at: datetime
    counts: dict[str, int] = Field(description="targets, on_release, failed, waiting")
    targets: list[TargetOut]


class RolloutAnswer(BaseModel):
    rollout: RolloutOut | None = Field(description="None: no rollout yet")
    may_command: bool = Field(description="Whether the caller may halt and resume it (HQ's staff)")


class HaltIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(max_length=200)] = ""


class RolloutTargets:
    """The release the rollout sends each kiosk (0: none), read again at most every couple of seconds.

    A running rollout sends its release to its stage's kiosks; one halted or finished has left it
    only with those that run it."""

    def __init__(self, rollouts: RolloutLog, fleet: FleetView) -> None:
        self._rollouts, self._fleet = rollouts, fleet
        self._lock = threading.Lock()
        self._read_at = -_TARGETS_KEPT_S
        self._targets: dict[KioskKey, int] = {}

    def target_of(self, store: str, kiosk: str) -> int:
        with self._lock:
            if time.monotonic() - self._read_at >= _TARGETS_KEPT_S:
                self._targets, self._read_at = self._read(), time.monotonic()
            return self._targets.get((store, kiosk), 0)

    def _read(self) -> dict[KioskKey, int]:
        rollout = self._rollouts.current()
        if rollout is None:
            return {}
        statuses = {view.key: view.status for view in self._fleet.kiosks()}
        if rollout.state is RolloutState.RUNNING:
            return dict.fromkeys(rollout_targets(rollout, statuses), rollout.release)
        return {key: rollout.release for key, status in statuses.items() if status.software_release == rollout.release}


def rollout_router(rollouts: RolloutLog, fleet: FleetView, keys: ApiKeys, api_key: APIKeyHeader) -> APIRouter:
    """``/fleet/api/rollout`` and its halt and resume."""
    Caller = Annotated[FleetCaller, Depends(fleet_caller_check(keys, api_key))]
    Staff = Annotated[str, Depends(fleet_channel_check(keys, api_key, "halt or resume the fleet's rollout"))]
    errors = error_responses(e401="Not signed in", e403="Not a fleet channel (a store's key may only look)")
    conflict: dict[int | str, dict[str, Any]] = {404: {"model": ApiError, "description": "No rollout yet"},
                409: {"model": ApiError, "description": "The rollout is not running (halt) or not halted (resume)"}}
    router = APIRouter(prefix="/fleet/api/rollout", tags=["fleet"])

    def answer(caller: FleetCaller) -> RolloutAnswer:
        current = rollouts.current()
        return RolloutAnswer(rollout=_rollout_out(current, fleet, caller) if current else None,
                             may_command=caller.store is None)

    def change(channel: str, verb: str, expected: RolloutState) -> Rollout:
        current = rollouts.current()
        if current is None:
            raise ApiRefusal(404, "no_rollout", f"there is no rollout to {verb}")
        if current.state is not expected:
            raise ApiRefusal(409, f"not_{expected.value}", f"the rollout of release {current.release} is "
                             f"{current.state.value}: nothing to {verb}")
        return current

    @router.get("", responses=errors)
    def show(caller: Caller) -> RolloutAnswer:
        """The unfinished rollout, else the last one, with the kiosks of its stage the caller sees."""
        return answer(caller)

    @router.post("/halt", responses={**errors, **conflict})
    def halt(body: HaltIn, channel: Staff) -> RolloutAnswer:
        """Halt the running rollout: the kiosks that do not run its release yet are told none is wanted."""
        current = change(channel, "halt", RolloutState.RUNNING)
        reason = body.reason.strip() or f"halted from the dashboard ({channel})"
        if not rollouts.halt(current, reason, datetime.now(UTC)):
            raise ApiRefusal(409, "not_running", "the rollout changed meanwhile: look again")
        log.warning("channel %s halted the rollout of release %d: %s", channel, current.release, reason)
        return answer(FleetCaller(channel, None))

    @router.post("/resume", responses={**errors, **conflict})
    def resume(channel: Staff) -> RolloutAnswer:
        """Resume the halted rollout at its stage, without the kiosks that switched back from its release."""
        current = change(channel, "resume", RolloutState.HALTED)
        if not rollouts.resume(current, datetime.now(UTC)):
            raise ApiRefusal(409, "not_halted", "the rollout changed meanwhile: look again")
        log.info("channel %s resumed the rollout of release %d", channel, current.release)
        return answer(FleetCaller(channel, None))

    return router


def _rollout_out(rollout: Rollout, fleet: FleetView, caller: FleetCaller) -> RolloutOut:
    statuses = {view.key: view.status for view in fleet.kiosks()}
    progress = rollout_progress(rollout, statuses)
    seen = sorted(key for key in progress.targets if caller.sees(key[0]))
    targets = [TargetOut(store=store, kiosk=kiosk, running=s.software_release if (s := statuses.get((store, kiosk)))
                         else None,
                         state="on_release" if (store, kiosk) in progress.on_release
                         else "failed" if (store, kiosk) in progress.failed else "waiting",
                         problem=progress.failed.get((store, kiosk), "")) for store, kiosk in seen]
    counts = {"targets": len(targets), **{state: sum(t.state == state for t in targets)
                                          for state in ("on_release", "failed", "waiting")}}
    return RolloutOut(release=rollout.release, label=rollout.label, stage=rollout.stage.value,
                      state=rollout.state.value, percent=rollout.percent,
                      canary=[f"{s}/{k}" for s, k in rollout.canary if caller.sees(s)],
                      left_out=[f"{s}/{k}" for s, k in rollout.left_out if caller.sees(s)],
                      halted_reason=rollout.halted_reason, stage_started_at=rollout.stage_started_at,
                      created_at=rollout.created_at, updated_at=rollout.updated_at, counts=counts, targets=targets)
