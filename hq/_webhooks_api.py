"""The dashboard's webhooks: what each delivered, retried and parked, and a retry for what was parked.

Under ``/fleet/api/webhooks``, for the fleet channels only, by key or by the dashboard's
sign-in cookie like the rest of ``/fleet/api``. A retry is a POST with a JSON body, as the
dashboard's commands are: a browser sends the SameSite=Strict cookie to HQ's own pages
only, and no other site's page may POST ``application/json`` to HQ without a CORS
preflight, which HQ never grants; a form's body is refused (422) before anything changes.
"""

import logging
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hq._api_models import ApiError, error_responses
from hq._auth import ApiKeys
from hq._dashboard import fleet_channel_check
from hq._feed_api import MAX_CURSOR
from hq._webhooks import Webhooks, WebhookStatus
from hq.exceptions import ApiRefusal

log = logging.getLogger(__name__)

_CHANNEL = r"^[a-z0-9][a-z0-9-]{0,63}$"


class ParkedOut(BaseModel):
    """A change a webhook gave up on; it holds back its shopper's later changes."""

    cursor: int
    shopper: str
    kind: str
    attempts: int
    problem: str = Field(description="What the receiver answered last, or why HQ could not reach it.")
    parked_at: datetime
    held: int = Field(description="The shopper's later changes waiting behind it.")


class WebhookOut(BaseModel):
    """One channel's webhook: its counters since it was added, and its queue now."""

    channel: str
    url: str = Field(description="Where HQ POSTs, its query left out.")
    delivered: int
    retried: int = Field(description="Failed attempts that were tried again.")
    parked: int = Field(description="Changes that failed for good, retried since or not.")
    queued: int = Field(description="Changes not delivered yet, parked and held ones included.")
    parked_now: int
    parked_changes: list[ParkedOut] = Field(description="The oldest parked changes (at most 100).")


class WebhooksOut(BaseModel):
    """Every webhook HQ calls."""

    webhooks: list[WebhookOut]


class RetryOne(BaseModel):
    """Send the parked change at ``cursor`` again."""

    model_config = ConfigDict(extra="forbid")

    cursor: int = Field(ge=1, le=MAX_CURSOR)


class RetryAll(BaseModel):
    """Send every parked change of the webhook again."""

    model_config = ConfigDict(extra="forbid")

    all: Literal[True]


class RetryOut(BaseModel):
    """Parked changes queued again; their shoppers' held changes follow them in order."""

    channel: str
    requeued: int


def webhooks_router(webhooks: Webhooks, keys: ApiKeys, api_key: APIKeyHeader) -> APIRouter:
    """The webhooks' routes under ``/fleet/api/webhooks``."""

    FleetChannel = Annotated[str, Depends(fleet_channel_check(keys, api_key, "see or retry webhooks"))]
    errors = error_responses(e401="Not signed in", e403="Not a fleet channel")
    router = APIRouter(prefix="/fleet/api/webhooks", tags=["webhooks"])

    @router.get("", responses=errors)
    async def list_webhooks(channel: FleetChannel) -> WebhooksOut:
        """Every webhook: what it delivered, retried and parked, and the parked changes."""
        return WebhooksOut(webhooks=[_out(status) for status in await run_in_threadpool(webhooks.statuses)])

    @router.post("/{webhook}/retry", responses={
        **errors, 404: {"model": ApiError, "description": "No webhook for that channel"},
        409: {"model": ApiError, "description": "That change is not parked (delivered, or retried already)"}})
    async def retry(webhook: Annotated[str, PathParam(pattern=_CHANNEL)], body: RetryOne | RetryAll,
                    channel: FleetChannel) -> RetryOut:
        """Send a parked change again now (or every parked one), then its shopper's held changes in order."""
        if await run_in_threadpool(webhooks.get, webhook) is None:
            raise ApiRefusal(404, "unknown_webhook", f"channel {webhook!r} has no webhook")
        cursor = body.cursor if isinstance(body, RetryOne) else None
        requeued = await run_in_threadpool(webhooks.retry, webhook, cursor)
        if cursor is not None and not requeued:
            raise ApiRefusal(409, "not_parked", f"change {cursor} is not parked for {webhook!r}")
        log.info("channel %s queued %d parked change(s) of the webhook of %s again", channel, requeued, webhook)
        return RetryOut(channel=webhook, requeued=requeued)

    return router


def _out(status: WebhookStatus) -> WebhookOut:
    hook = status.webhook
    shown = urlsplit(hook.url)._replace(query="", fragment="").geturl() + ("?…" if urlsplit(hook.url).query else "")
    return WebhookOut(channel=hook.channel, url=shown, delivered=hook.delivered, retried=hook.retried,
                      parked=hook.parked, queued=status.queued, parked_now=status.parked_now,
                      parked_changes=[ParkedOut(cursor=p.cursor, shopper=p.shopper, kind=p.kind, attempts=p.attempts,
                                                problem=p.problem, parked_at=p.parked_at, held=p.held)
                                      for p in status.parked_changes])
