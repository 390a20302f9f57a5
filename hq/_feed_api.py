"""The change feed over HTTP: every change to any shopper's profile, in one order, for the
channels to follow.

- ``GET /v1/changes?after=CURSOR&limit=N`` pages the change log (``_changes``) by cursor;
- ``GET /v1/changes/stream`` is the same as Server-Sent Events, live: every event is named
  ``change`` (its kind is in its data, so a client hears kinds added later without
  listening for them by name), its id is its cursor, and it resumes after the cursor in
  ``Last-Event-ID`` (or ``after``). A comment goes out when nothing has for
  ``keepalive_s``, so proxies keep the connection.

An open stream learns of new changes from ``ChangeFeed``: one query of the log's newest
cursor per ``poll_s`` per HQ process while any stream is open, whichever HQ process or
ingest worker stored the change, on SQLite as on PostgreSQL. A change so reaches every
open stream within a poll (50 ms) and a page read of its commit.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.security import APIKeyHeader
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from hq._api_models import error_responses
from hq._changes import CHANGE_FIELDS, Change, ChangeLog
from hq._guard import channel_dependency, shoppers_channel
from kiosk_protocol import ConsentStatus

log = logging.getLogger(__name__)

MAX_CURSOR = 2**53 - 1  # the largest cursor: every JSON reader holds it exactly (near 2**63 floats do not)
MAX_PAGE = 1000
_STREAM_PAGE = 100
_RETRY_MS = 1000  # how soon a client reconnects after its stream ended
_MAX_POLL_BACKOFF_S = 2.0


class StreamQuery(BaseModel):
    """Where a stream starts (unknown parameters are refused, as unknown body fields are)."""

    model_config = ConfigDict(extra="forbid")

    after: int = Field(0, ge=0, le=MAX_CURSOR, description="Changes after this cursor (0: all).")


class PageQuery(StreamQuery):
    """Which page of the feed."""

    limit: int = Field(100, ge=1, le=MAX_PAGE, description="At most this many changes.")


class ChangeOut(BaseModel):
    """One change to a shopper's profile: what every change has, then its kind's own fields."""

    cursor: int = Field(description="Its place in the feed; a later change has a higher one. Page and resume by it.")
    shopper: str
    kind: str = Field(description="What changed; `erase`: forget everything about the shopper.",
                      json_schema_extra={"enum": list[JsonValue](sorted(CHANGE_FIELDS))})
    channel: str = Field(description="Who made it: 'web', 'app'... or 'kiosk:<kiosk>'.")
    store: str
    kiosk: str
    at: datetime = Field(description="When it was made, by the clock of the channel that made it.")
    sku: str | None = Field(None, description="product_view, suggestion_tap, wishlist_add, wishlist_remove")
    beside: str | None = Field(None, description="suggestion_tap: the product the touched suggestion was shown beside")
    consent: ConsentStatus | None = None
    key: str | None = Field(None, description="preference")
    value: str | None = Field(None, description="preference")
    display_name: str | None = None
    offer: str | None = Field(None, description="coupon_saved, coupon_redeemed: the offer's id")
    redemption: str | None = Field(None, description="coupon_redeemed: the redemption's id")
    left: int | None = Field(None, description="coupon_redeemed: the redemptions left of the coupon after it")
    hlc: str | None = Field(None, description="The hybrid logical timestamp of a change that merges by it.")
    order: str | None = Field(None, description="order_placed: the order's id (`GET /v1/shoppers/{shopper}/orders`)")
    lines: int | None = Field(None, description="order_placed: how many lines the order has")
    total: str | None = Field(None, description="order_placed: the order's total, a decimal with two places")
    # A reservation's change names its store in ``store`` (and its SKU in ``sku``); the channel made it.
    reservation: str | None = Field(None, description="reservation: the reservation's id")
    state: str | None = Field(None, description="reservation: the state it took (held, taken, ready, collected, "
                                                "cancelled, expired)")
    size: str | None = Field(None, description="reservation: the size held")


class ChangesOut(BaseModel):
    """A page of the feed."""

    changes: list[ChangeOut] = Field(description="Oldest first; each carries only its kind's own fields.")
    next: int = Field(description="The cursor to ask after next: the last one here, or `after` when none came.")


class ChangeFeed:
    """Wakes the open streams of one HQ process when the change log has grown.

    ``close`` ends every open stream within a poll (when HQ stops); ``open_streams``
    counts those still open.
    """

    def __init__(self, changes: ChangeLog, poll_s: float = 0.05, keepalive_s: float = 15.0) -> None:
        self.changes = changes
        self.poll_s, self.keepalive_s = poll_s, keepalive_s
        self.open_streams = 0
        self.closed = False
        self._latest = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._grown = asyncio.Condition()
        self._poller: asyncio.Task[None] | None = None

    def close(self) -> None:
        """End every open stream (safe from any thread)."""
        self.closed = True

    @contextlib.asynccontextmanager
    async def stream_open(self) -> AsyncIterator[None]:
        """Count a stream as open while inside, and keep the log polled meanwhile."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # an app served by a new event loop (a test client's)
            self._loop, self._grown, self._poller = loop, asyncio.Condition(), None
        self.open_streams += 1
        if self._poller is None or self._poller.done():
            self._poller = loop.create_task(self._poll())
        try:
            yield
        finally:
            self.open_streams -= 1

    async def wait_beyond(self, cursor: int, timeout_s: float) -> bool:
        """Whether the log holds a cursor above ``cursor`` within ``timeout_s`` (False when closed)."""
        async with self._grown:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._grown.wait_for(lambda: self._latest > cursor or self.closed), timeout_s)
        return self._latest > cursor and not self.closed

    async def _poll(self) -> None:
        delay = self.poll_s
        # Ends only here, with no await between the check and the end, so a stream that
        # opens meanwhile finds the poller done and starts another.
        while self.open_streams:
            latest = self._latest
            if not self.closed:
                try:
                    latest = await run_in_threadpool(self.changes.latest)
                    delay = self.poll_s
                except SQLAlchemyError as exc:  # the streams wait; they get what they missed once it is back
                    log.warning("cannot read the change log's newest cursor, retrying in %.2f s: %s", delay, exc)
                    delay = min(delay * 2, _MAX_POLL_BACKOFF_S)
            if latest != self._latest or self.closed:  # closed: the waiting streams end
                async with self._grown:
                    self._latest = latest
                    self._grown.notify_all()
            await asyncio.sleep(delay)


def change_out(change: Change) -> ChangeOut:
    """A change as the API answers with it."""
    return ChangeOut.model_validate({"cursor": change.cursor, "shopper": change.shopper, "kind": change.kind,
                                     "channel": change.channel, "store": change.store, "kiosk": change.kiosk,
                                     "at": change.at, **change.fields})


def feed_router(feed: ChangeFeed, api_key: APIKeyHeader) -> APIRouter:
    """The feed's routes under ``/v1/changes``."""
    errors = error_responses(e401="Missing or unknown API key",
                             e503="The profile database is out of reach; retry")
    router = APIRouter(prefix="/v1/changes", tags=["changes"])

    def resume_after(
        query: Annotated[StreamQuery, Query()],
        last_event_id: Annotated[int | None, Header(ge=0, le=MAX_CURSOR, description=(
            "The id of the last event a client got: a reconnecting EventSource sends it. Wins over `after`."))] = None,
    ) -> int:
        return query.after if last_event_id is None else last_event_id

    Channel = Annotated[str, Depends(channel_dependency(api_key, shoppers_channel))]

    @router.get("", responses=errors, response_model_exclude_none=True)
    def page(channel: Channel, query: Annotated[PageQuery, Query()]) -> ChangesOut:
        """Changes to any shopper's profile after a cursor, oldest first."""
        found = feed.changes.page(query.after, query.limit)
        return ChangesOut(changes=[change_out(c) for c in found], next=found[-1].cursor if found else query.after)

    @router.get("/stream", response_class=EventSourceResponse, responses=_stream_responses(errors))
    async def stream(channel: Channel, after: Annotated[int, Depends(resume_after)]) -> AsyncIterable[ServerSentEvent]:
        """The feed live as Server-Sent Events: every change after the cursor, then each new one as it is stored.

        Each event is named `change`, its id is its cursor and its data a change as in
        `GET /v1/changes`; a comment comes when nothing else has for a while.
        """
        async with feed.stream_open():
            yield ServerSentEvent(comment="changes", retry=_RETRY_MS)
            while not feed.closed:
                try:
                    found = await run_in_threadpool(feed.changes.page, after, _STREAM_PAGE)
                except SQLAlchemyError as exc:  # the client reconnects, from its Last-Event-ID
                    log.error("a change stream ends: cannot read the change log: %s", exc)
                    return
                for change in found:
                    yield ServerSentEvent(id=str(change.cursor), event="change",
                                          raw_data=change_out(change).model_dump_json(exclude_none=True))
                if found:
                    after = found[-1].cursor
                elif not await feed.wait_beyond(after, feed.keepalive_s) and not feed.closed:
                    yield ServerSentEvent(comment="keep-alive")

    return router


def _stream_responses(errors: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The stream's answers for OpenAPI: events whose data is a change, errors as JSON like every route's."""
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    events = {"text/event-stream": {"itemSchema": {"properties": {
        "event": {"const": "change"}, "id": {"description": "The change's cursor"},
        "data": {"contentMediaType": "application/json", "contentSchema": {"$ref": "#/components/schemas/ChangeOut"}},
    }}}}
    return {200: {"description": "Changes as they are stored", "content": events},
            **{code: {"description": answer["description"], "content": json_error} for code, answer in errors.items()}}
