"""The fleet dashboard's HTTP side: the page, the fleet as JSON, a live stream of changes
(Server-Sent Events) and commands to kiosks.

Scripts call with a fleet channel's key in ``X-Api-Key``; a browser signs in once with
that key and then carries a signed, HttpOnly, SameSite=Strict cookie (an EventSource
cannot send headers). Signing out revokes that cookie in the profile database, so no HQ
process takes it again; failed sign-ins count against the caller's address like wrong keys.

HQ's staff (a fleet channel) see and command every kiosk; a store's manager, signed in with
the store's key, sees and commands only their store's (``FleetCaller``). Remote care asks a
kiosk for a screenshot (refused while a shopper is signed in there) or its last log lines.
"""

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import APIKeyHeader
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field

from hq._alarm_log import Alarm, NoticeState
from hq._api_models import ApiError, error_responses
from hq._auth import SESSION_TTL_S, ApiKeys, KeyRole
from hq._care import CareRefused
from hq._fleet import FleetChange, FleetView, KioskGone, KioskView, StoreAlerts
from hq._guard import (
    SESSION_COOKIE,
    HttpGuard,
    authenticated_channel,
    authenticated_grant,
    client_address,
    session_digest,
)
from hq.exceptions import ApiRefusal
from kiosk_protocol import MAX_LOG_LINES, CareAsk, CareResponse, CommandKind, LinkState, SyncError

log = logging.getLogger(__name__)

DASHBOARD_DIR = Path(__file__).with_name("dashboard")
_STREAM_BACKLOG = 2000  # changes a slow browser may fall behind before it is made to start over
_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
StorePath = Annotated[str, PathParam(pattern=_ID)]
KioskPath = Annotated[str, PathParam(pattern=_ID)]


class RemoteCommand(enum.Enum):
    """What staff may order a kiosk to do from the dashboard."""

    RELOAD_CATALOG = "reload_catalog"
    LOCK = "lock"
    UNLOCK = "unlock"
    IDENTIFY = "identify"


class CommandIn(BaseModel):
    """A command for one kiosk."""

    model_config = ConfigDict(extra="forbid")

    command: RemoteCommand


class CommandOut(BaseModel):
    """A command the broker has taken for a kiosk."""

    store: str
    kiosk: str
    command: RemoteCommand
    kiosk_online: bool = Field(description="False: the kiosk gets it when it reconnects.")


class AlertOut(BaseModel):
    """One of a kiosk's problems."""

    kind: str
    message: str


class KioskOut(BaseModel):
    """One kiosk as the fleet view sees it."""

    store: str
    kiosk: str
    state: LinkState
    last_seen: datetime
    app_version: str
    catalog_version: int
    backlog: int
    reader: str
    update_problem: str
    catalog_fallback: str = Field("", description="Why the kiosk runs on an older catalog than it was given")
    outbox_reset: str = Field("", description="A damaged event store the kiosk set aside and replaced")
    disk_full: bool = Field(False, description="Taps are shown but their events are not recorded")
    disk_free_mb: int | None = Field(None, description="Megabytes free where the kiosk keeps its data (None: "
                                                       "not reported)")
    offers_problem: str = Field("", description="Why the kiosk runs with no offers: its offers file did not load")
    software_release: int = Field(0, description="The software release whose code runs (0: the one installed "
                                                 "with the kiosk)")
    software_on_trial: bool = Field(False, description="The release running has not yet passed its health check")
    software_failed: int = Field(0, description="The last release that failed its health check on the kiosk "
                                                "and was switched back from (0: none)")
    software_problem: str = Field("", description="Why that release failed its health check")
    software_target: int = Field(0, description="The release the software rollout sends the kiosk (0: none)")
    alerts: list[AlertOut]


class StoreAlertsOut(BaseModel):
    """A store's own problems: requests asked online, or at a kiosk HQ does not know, that nobody has taken."""

    store: str
    alerts: list[AlertOut]


class FleetOut(BaseModel):
    """Every kiosk HQ knows, by store and kiosk id, and the stores with alerts of their own."""

    kiosks: list[KioskOut]
    stores: list[StoreAlertsOut] = Field(default_factory=list)
    generated_at: datetime
    backlog_high: int
    silent_after_s: float


class LogLinesOut(BaseModel):
    """A kiosk's last log lines, oldest first."""

    store: str
    kiosk: str
    lines: list[str]


class NoticeOut(BaseModel):
    """How one notice of an alarm went to one of its store's routes."""

    route: str = Field(description="The webhook URL or e-mail address")
    event: Literal["raised", "cleared"]
    state: Literal["sent", "waiting", "parked"]
    attempts: int
    problem: str | None = Field(None, description="Why the last attempt failed")


class AlarmOut(BaseModel):
    """An alarm: a problem that outlasted its grace, raised to the store's routes, and when it cleared."""

    id: int
    store: str
    kiosk: str | None = Field(description="None: the store's own (a request asked online)")
    kind: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None
    notices: list[NoticeOut]


class AlarmsOut(BaseModel):
    alarms: list[AlarmOut]


class SignIn(BaseModel):
    """A fleet channel's key, to sign the browser in."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=512)


def fleet_channel_check(keys: ApiKeys, api_key: APIKeyHeader, doing: str) -> Callable[..., Awaitable[str]]:
    """A route dependency: the calling channel (by key or sign-in cookie, checked before the
    body was read), refused with 403 unless it is a fleet channel; ``doing`` says what it may not."""

    async def fleet_channel(request: Request, key: Annotated[str | None, Security(api_key)]) -> str:
        channel = authenticated_channel(request)
        if not keys.may_use_fleet(channel):
            raise ApiRefusal(403, "forbidden", f"channel {channel!r} may not {doing}")
        return channel

    return fleet_channel


@dataclass(frozen=True)
class FleetCaller:
    """Who calls a fleet route: HQ's staff (``store`` None: every store) or one store's manager."""

    channel: str
    store: str | None

    def sees(self, store: str) -> bool:
        return self.store is None or self.store == store


def fleet_caller_check(keys: ApiKeys, api_key: APIKeyHeader) -> Callable[..., Awaitable[FleetCaller]]:
    """A route dependency: the caller of a fleet route (a fleet channel, or a store's key for
    its store only), refused with 403 for any other key."""

    async def fleet_caller(request: Request, key: Annotated[str | None, Security(api_key)]) -> FleetCaller:
        channel = authenticated_channel(request)
        grant = authenticated_grant(request)
        if grant.role is KeyRole.STORE:
            return FleetCaller(channel, grant.store)
        if not keys.may_use_fleet(channel):
            raise ApiRefusal(403, "forbidden", f"channel {channel!r} may not see or command the fleet")
        return FleetCaller(channel, None)

    return fleet_caller


def may_sign_in(keys: ApiKeys, channel: str) -> bool:
    """Whether ``channel``'s key may sign a browser in to the dashboard: the fleet's, or a store's.

    A store key's session opens only what that key opens by itself: its store's kiosks and
    analytics; the fleet-wide routes (offers, webhooks) check ``may_use_fleet`` and refuse it.
    """
    return keys.may_use_fleet(channel) or keys.grant(channel).role is KeyRole.STORE


def fleet_router(fleet: FleetView, guard: HttpGuard, api_key: APIKeyHeader,
                 software_target: Callable[[str, str], int] = lambda store, kiosk: 0) -> APIRouter:
    """The dashboard's routes under ``/fleet``; its static files are mounted by the app.
    ``software_target`` says which release the software rollout sends a kiosk (0: none)."""
    keys = guard.keys

    def kiosk_out(view: KioskView) -> KioskOut:
        return KioskOut.model_validate({**view.to_json(), "software_target": software_target(*view.key)})

    Caller = Annotated[FleetCaller, Depends(fleet_caller_check(keys, api_key))]
    errors = error_responses(e401="Not signed in", e403="Not a fleet channel, or another store's key")
    unknown = {"model": ApiError, "description": "HQ has never heard of this kiosk"}

    def known_kiosk(caller: FleetCaller, store: str, kiosk: str) -> KioskView:
        if not caller.sees(store):
            raise ApiRefusal(403, "other_store", f"this key is {caller.channel!r}'s, staff of another store "
                             f"than {store!r}")
        view = fleet.kiosk(store, kiosk)
        if view is None:
            raise ApiRefusal(404, "unknown_kiosk", f"HQ has never heard of kiosk {store}/{kiosk}")
        return view

    def ask(caller: FleetCaller, store: str, kiosk: str, what: CareAsk, lines: int = 100) -> CareResponse:
        known_kiosk(caller, store, kiosk)
        try:
            answer = fleet.care.ask(store, kiosk, what, lines)
        except CareRefused as exc:
            raise ApiRefusal(exc.status, exc.error, exc.detail) from exc
        except SyncError as exc:
            raise ApiRefusal(503, "broker_unreachable", str(exc), {"Retry-After": "5"}) from exc
        log.info("channel %s had %s of %s/%s", caller.channel, what.value, store, kiosk)
        return answer

    care_errors = {**errors, 404: unknown,
                   409: {"model": ApiError, "description": "`in_use`: a shopper is signed in at the kiosk"},
                   502: {"model": ApiError, "description": "`kiosk_failed`: the kiosk could not do it"},
                   503: {"model": ApiError, "description": "The broker is out of reach; retry"},
                   504: {"model": ApiError, "description": "`no_answer`: the kiosk did not answer in time"}}
    router = APIRouter(prefix="/fleet", tags=["fleet"])

    @router.get("", include_in_schema=False)
    def to_page() -> RedirectResponse:
        return RedirectResponse("/fleet/")

    @router.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @router.get("/analytics", include_in_schema=False)
    def analytics_page() -> FileResponse:  # its data: /fleet/api/analytics/<name>, for the fleet or one store
        return FileResponse(DASHBOARD_DIR / "analytics.html", headers={"Cache-Control": "no-cache"})

    @router.post("/session", include_in_schema=False, status_code=204)
    def sign_in(body: SignIn, request: Request, response: Response) -> None:
        client = client_address(request.scope)
        if (wait := guard.failures.retry_after(client)) is not None:
            guard.stats.rate_limited += 1
            raise ApiRefusal(429, "too_many_failures", f"too many wrong keys or sign-ins from {client}; "
                             f"retry in {wait}s", {"Retry-After": str(wait)})
        channel = keys.channel_for(body.key)
        if channel is None or not may_sign_in(keys, channel):
            guard.stats.sign_ins_refused += 1
            log.warning("refused a dashboard sign-in from %s: not a fleet channel's key nor a store's", client)
            guard.failures.failed(client)
            raise ApiRefusal(401, "unauthorized", "that is not a fleet channel's key nor a store's")
        response.set_cookie(SESSION_COOKIE, keys.session_token(channel), max_age=SESSION_TTL_S, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/fleet")
        log.info("dashboard sign-in for channel %s", channel)

    @router.delete("/session", include_in_schema=False, status_code=204)
    def sign_out(request: Request, response: Response) -> None:
        token = request.cookies.get(SESSION_COOKIE)
        channel = keys.channel_for_session(token)
        if token and channel:  # kept until it would have expired, for every HQ process to refuse
            guard.store.revoke_session(session_digest(token),
                                       datetime.fromtimestamp(keys.session_expiry(token), UTC))
            log.info("dashboard sign-out for channel %s", channel)
        response.delete_cookie(SESSION_COOKIE, path="/fleet", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")

    @router.get("/api/kiosks", responses=errors)
    def kiosks(caller: Caller) -> FleetOut:
        """Every kiosk the caller sees (a store's key: its store's): state, last seen, versions,
        backlog, reader and alerts."""
        return _snapshot(fleet, caller, kiosk_out)

    @router.post("/api/kiosks/{store}/{kiosk}/commands", status_code=202,
                 responses={**errors, 404: unknown,
                            503: {"model": ApiError, "description": "The broker is out of reach; retry"}})
    def command(store: StorePath, kiosk: KioskPath, body: CommandIn, caller: Caller) -> CommandOut:
        """Send a kiosk a command over MQTT: reload its catalog, lock, unlock, or flash its screen."""
        view = known_kiosk(caller, store, kiosk)
        try:
            fleet.send_command(store, kiosk, CommandKind(body.command.value))
        except SyncError as exc:
            raise ApiRefusal(503, "broker_unreachable", str(exc), {"Retry-After": "5"}) from exc
        log.info("channel %s sent %s to %s/%s", caller.channel, body.command.value, store, kiosk)
        return CommandOut(store=store, kiosk=kiosk, command=body.command,
                          kiosk_online=view.status.state is LinkState.ONLINE)

    @router.get("/api/kiosks/{store}/{kiosk}/screenshot", response_class=Response, responses={
        **care_errors, 200: {"content": {"image/png": {}}, "description": "What the kiosk's screen shows now"}})
    def screenshot(store: StorePath, kiosk: KioskPath, caller: Caller) -> Response:
        """The kiosk's screen now, as a PNG; 409 ``in_use`` while a shopper is signed in there."""
        answer = ask(caller, store, kiosk, CareAsk.SCREENSHOT)
        return Response(answer.png or b"", media_type="image/png", headers={"Cache-Control": "no-store"})

    @router.get("/api/kiosks/{store}/{kiosk}/logs", responses=care_errors)
    def logs(store: StorePath, kiosk: KioskPath, caller: Caller,
             lines: Annotated[int, Query(ge=1, le=MAX_LOG_LINES, description="How many of the last lines.")] = 100
             ) -> LogLinesOut:
        """The kiosk's last log lines, oldest first."""
        answer = ask(caller, store, kiosk, CareAsk.LOGS, lines)
        return LogLinesOut(store=store, kiosk=kiosk, lines=answer.lines)

    @router.get("/api/alarms", responses=errors)
    def alarm_log(caller: Caller, open: Annotated[bool, Query(description="Only those not yet cleared.")] = False,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> AlarmsOut:
        """The newest alarms first (a store's key: its store's), with how each notice went."""
        alarms = guard.store.alarms
        targets = {route.id: route.target for route in alarms.routes(caller.store)}
        listed = alarms.history(caller.store, limit, open_only=open)
        notices = alarms.notices_of([alarm.id for alarm in listed])
        return AlarmsOut(alarms=[_alarm_out(alarm, notices.get(alarm.id, []), targets) for alarm in listed])

    @router.get("/api/stream", response_class=EventSourceResponse, include_in_schema=False)
    async def stream(caller: Caller) -> AsyncIterable[ServerSentEvent]:
        """The whole fleet (what the caller sees of it) at once, then every change as it happens."""
        loop = asyncio.get_running_loop()
        changes: asyncio.Queue[FleetChange] = asyncio.Queue(maxsize=_STREAM_BACKLOG)

        def forward(change: FleetChange) -> None:
            if change is not None and not caller.sees(change.store if not isinstance(change, KioskView)
                                                      else change.status.store):
                return
            with contextlib.suppress(RuntimeError):  # the server's loop has closed
                loop.call_soon_threadsafe(_offer, changes, change)

        unsubscribe = fleet.listen(forward)  # before the snapshot, so no change falls between
        try:
            yield ServerSentEvent(event="snapshot", data=_snapshot(fleet, caller, kiosk_out), retry=2000)
            while (change := await changes.get()) is not None:
                if isinstance(change, KioskGone):
                    yield ServerSentEvent(event="gone", data={"store": change.store, "kiosk": change.kiosk})
                elif isinstance(change, StoreAlerts):
                    yield ServerSentEvent(event="store", data=StoreAlertsOut.model_validate(change.to_json()))
                else:
                    yield ServerSentEvent(event="kiosk", data=kiosk_out(change))
        finally:
            unsubscribe()

    return router


def _offer(changes: asyncio.Queue[FleetChange], change: FleetChange) -> None:
    try:
        changes.put_nowait(change)
    except asyncio.QueueFull:  # end this stream; the browser reconnects and gets a fresh snapshot
        while not changes.empty():
            changes.get_nowait()
        changes.put_nowait(None)


def _alarm_out(alarm: Alarm, notices: list[NoticeState], targets: dict[int, str]) -> AlarmOut:
    return AlarmOut(id=alarm.id, store=alarm.key.store, kiosk=alarm.key.kiosk or None, kind=alarm.key.kind.value,
                    message=alarm.message, raised_at=alarm.raised_at, cleared_at=alarm.cleared_at, notices=[
                        NoticeOut(route=targets.get(n.route, f"route {n.route}"), event=n.event.value, state=n.state,
                                  attempts=n.attempts, problem=n.problem) for n in notices])


def _snapshot(fleet: FleetView, caller: FleetCaller, kiosk_out: Callable[[KioskView], KioskOut]) -> FleetOut:
    return FleetOut(kiosks=[kiosk_out(view) for view in fleet.kiosks() if caller.sees(view.status.store)],
                    stores=[StoreAlertsOut.model_validate(alerts.to_json()) for alerts in fleet.store_alerts()
                            if caller.sees(alerts.store)],
                    generated_at=datetime.now(UTC),
                    backlog_high=fleet.thresholds.backlog_high, silent_after_s=fleet.thresholds.silent_after_s)
