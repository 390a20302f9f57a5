"""The enrolment routes (``_enrolment``): a new kiosk's, with no key (``/v1/enrolments``), and
staff's approval on the dashboard (``/fleet/api/enrolments``, a store's key for its store only).

No ``from __future__ import annotations`` here: FastAPI reads the route's ``Caller`` alias,
local to ``enrolment_routers``, from the signature itself."""

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field

from hq._api_models import error_responses
from hq._dashboard import FleetCaller, fleet_caller_check
from hq._enrolment import Enrolments, KioskProvisioner, spaced
from hq._guard import HttpGuard, client_address
from hq.exceptions import ApiRefusal, CredentialsError

log = logging.getLogger(__name__)

BEGIN_RATE = "10/minute"  # enrolments one address may begin: a kiosk restarting, not a flood
_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"


class EnrolmentOut(BaseModel):
    """A new enrolment: the code the kiosk shows, the token it collects its settings with."""

    enrolment: str
    code: str = Field(description="For the kiosk's screen, e.g. K7F3-QX9M: staff approve it on the dashboard")
    token: str = Field(description="The kiosk's alone: give it as `Authorization: Bearer <token>` to collect")
    expires_at: datetime


class PendingOut(BaseModel):
    state: Literal["pending"] = "pending"


class SettingsOut(BaseModel):
    """An approved kiosk's settings, handed out once."""

    state: Literal["approved"] = "approved"
    store: str
    kiosk: str
    broker_url: str = Field(description="mqtts://user:password@host:port: the kiosk's own broker login")
    broker_ca: str = Field(description="The broker's CA certificate (PEM)")
    hq_public_key: str = Field(description="HQ's public key (PEM): cards, badges and bundles are checked with it")
    files_url: str


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(min_length=8, max_length=16, description="As the kiosk shows it")]
    store: Annotated[str, Field(pattern=_ID)]
    kiosk: Annotated[str, Field(pattern=_ID)]


class ApprovedOut(BaseModel):
    enrolment: str
    store: str
    kiosk: str


def enrolment_routers(enrolments: Enrolments, provisioner: KioskProvisioner, guard: HttpGuard,
                      api_key: APIKeyHeader) -> list[APIRouter]:
    """The kiosk's routes and the dashboard's approval."""
    kiosk_side = APIRouter(prefix="/v1/enrolments", tags=["enrolment"])
    begun = MovingWindowRateLimiter(MemoryStorage())
    rate = parse(BEGIN_RATE)

    @kiosk_side.post("", status_code=201, responses=error_responses(e429="Too many enrolments begun from here"))
    def begin(request: Request) -> EnrolmentOut:
        """Begin enrolling a kiosk: show the code, collect with the token. No key: a new kiosk has none."""
        client = client_address(request.scope)
        if not begun.hit(rate, client):
            raise ApiRefusal(429, "too_many_enrolments", f"at most {BEGIN_RATE} enrolments from {client}",
                             {"Retry-After": "60"})
        new = enrolments.begin()
        log.info("enrolment %s begun from %s", new.id, client)
        return EnrolmentOut(enrolment=new.id, code=spaced(new.code), token=new.token, expires_at=new.expires_at)

    @kiosk_side.get("/{enrolment}", responses={
        **error_responses(e404="No such enrolment, or not this token's", e410="Expired, or collected already"),
        202: {"model": PendingOut, "description": "Not approved yet: ask again in a few seconds"}})
    def collect(enrolment: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")], request: Request, response: Response,
                authorization: Annotated[str, Header()] = "") -> SettingsOut | PendingOut:
        """The kiosk's settings once staff approved its code, handed out once."""
        client = client_address(request.scope)
        scheme, _, token = authorization.partition(" ")
        try:
            settings = enrolments.collect(enrolment, token if scheme.lower() == "bearer" else "")
        except ApiRefusal as exc:
            if exc.status == 404:
                guard.failures.failed(client)  # a guessed token costs like a guessed key
            raise
        if settings is None:
            response.status_code = 202
            return PendingOut()
        log.info("enrolment %s collected by %s as %s/%s", enrolment, client, settings.store, settings.kiosk)
        return SettingsOut(**asdict(settings))

    fleet_side = APIRouter(prefix="/fleet/api/enrolments", tags=["fleet"])
    Caller = Annotated[FleetCaller, Depends(fleet_caller_check(guard.keys, api_key))]

    @fleet_side.post("", responses=error_responses(e401="Not signed in", e403="Another store's kiosk",
                                                   e404="No kiosk shows that code", e409="Approved already",
                                                   e410="The code expired"))
    def approve(body: ApproveIn, caller: Caller, request: Request) -> ApprovedOut:
        """Approve the kiosk showing ``code`` as ``store``/``kiosk``: it gets its own broker login.

        A kiosk id enrolled before gets a new login and its old one stops working (a replaced tablet).
        """
        if not caller.sees(body.store):
            raise ApiRefusal(403, "other_store", f"this key is {caller.channel!r}'s, staff of another store "
                                                 f"than {body.store!r}")
        try:
            enrolment = enrolments.approve(body.code, body.store, body.kiosk, provisioner.settings_for)
        except ApiRefusal as exc:
            if exc.status == 404:
                guard.failures.failed(client_address(request.scope))  # guessing codes is refused soon
            raise
        except CredentialsError as exc:
            raise ApiRefusal(422, "invalid_kiosk", str(exc)) from exc
        log.warning("channel %s approved enrolment %s as %s/%s", caller.channel, enrolment, body.store, body.kiosk)
        return ApprovedOut(enrolment=enrolment, store=body.store, kiosk=body.kiosk)

    return [kiosk_side, fleet_side]
