"""A store's own traffic: what is free to hold of its stock as it changes, and the requests
shoppers make at its kiosks (a size brought to a fitting room, a product reserved to
collect) with the state its staff give them.

    kiosk -> HQ   ReservationRequest   kiosk/<store>/<kiosk>/reservation/request
    HQ -> kiosk   ReservationResponse  kiosk/<store>/<kiosk>/reservation/response
    HQ -> kiosk   ReservationUpdate    kiosk/<store>/<kiosk>/reservation/changes   a request made there moved on
    HQ -> store   StockLevel           store/<store>/stock/<sku>   retained: free units of one product, per size
    HQ -> store   StoreRequests        store/<store>/requests      retained: the store's open requests

A kiosk reads its own store's ``store/<store>/#`` only. Those topics carry nothing about
a shopper: every kiosk of the store, and its staff, read them. A kiosk overlays each
``StockLevel`` on its catalog's stock for that product, newest ``stamp`` winning, so the
size chips show what HQ holds now rather than what the last bundle said.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kiosk_protocol.catalog import PlainText
from kiosk_protocol.contract import CardToken, ShopperId, Sku, _checked_id

MAX_ORDER_SKUS = 10  # of one order in a profile answer: what a welcome screen has room for
MAX_OPEN_REQUESTS = 200  # in one StoreRequests: far more than a store's staff can have waiting
Size = Annotated[PlainText, Field(min_length=1, max_length=16)]
Stamp = Annotated[int, Field(ge=0, le=2**53 - 1)]


class ReservationKind(enum.Enum):
    FITTING_ROOM = "fitting_room"  # bring this size to a fitting room, now: held for minutes
    COLLECT = "collect"  # put it aside to collect: held for a day or two, for a signed-in shopper


class ReservationState(enum.Enum):
    """Where a request stands; the first three hold a unit of stock."""

    HELD = "held"  # asked for, no one on it yet
    TAKEN = "taken"  # a member of staff is on it
    READY = "ready"  # in the fitting room, or at the counter
    COLLECTED = "collected"  # bought: the unit left the stock
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def holds_stock(self) -> bool:
        return self in (ReservationState.HELD, ReservationState.TAKEN, ReservationState.READY)


class Reservation(BaseModel):
    """A request as the kiosk shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reservation_id: uuid.UUID
    sku: Sku
    size: Size
    kind: ReservationKind
    state: ReservationState
    expires_at: datetime
    note: Annotated[PlainText, Field(max_length=80)] | None = None  # staff's word: "fitting room 2"


class OrderSummary(BaseModel):
    """One of the shopper's recent orders, as their welcome screen lists it (profile version 4)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    at: datetime
    store: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]  # a store's id, or ``online``
    channel: Annotated[str, Field(max_length=64)]
    skus: Annotated[tuple[Sku, ...], Field(max_length=MAX_ORDER_SKUS)]  # its first lines' products
    lines: Annotated[int, Field(ge=1)]
    total: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class ReservationRequest(BaseModel):
    """A kiosk asks HQ to hold one unit of ``sku`` in ``size`` for its visit ``session``.

    A fitting-room request may be anonymous; a collect request names the signed-in shopper
    with their card's token as proof, as a profile request does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024  # a card token is at most 1 KiB

    v: Literal[1] = 1
    request_id: uuid.UUID
    session: uuid.UUID
    sku: Sku
    size: Size
    kind: ReservationKind
    shopper: ShopperId | None = None
    token: CardToken | None = None

    @model_validator(mode="after")
    def _shopper_with_card(self) -> ReservationRequest:
        if (self.shopper is None) != (self.token is None):
            raise ValueError("a shopper is named with their card's token, and a token only with its shopper")
        if self.kind is ReservationKind.COLLECT and self.shopper is None:
            raise ValueError("a collect request is a signed-in shopper's")
        return self


class ReservationResponse(BaseModel):
    """HQ's answer: the reservation made, or why none (``out_of_stock``, ``unknown_product``, ``refused``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024

    v: Literal[1] = 1
    request_id: uuid.UUID
    reservation: Reservation | None = None
    error: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ReservationResponse:
        if (self.reservation is None) == (self.error is None):
            raise ValueError("an answer carries a reservation or an error")
        return self


class ReservationUpdate(BaseModel):
    """A request made at this kiosk in visit ``session`` moved on (staff took it, it is ready...).

    ``stamp`` orders one request's updates: the kiosk drops one older than what it shows.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 2 * 1024

    v: Literal[1] = 1
    session: uuid.UUID
    stamp: Stamp
    reservation: Reservation


class StockLevel(BaseModel):
    """Units of ``sku`` free to hold in ``store`` now, per size (stock less active holds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024

    v: Literal[1] = 1
    store: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    sku: Sku
    stamp: Stamp
    available: Annotated[dict[Size, Annotated[int, Field(ge=0)]], Field(max_length=64)]


class OpenRequest(BaseModel):
    """One open request as staff see it: where, what, since when; never who."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reservation_id: uuid.UUID
    kiosk: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None  # None: made online
    sku: Sku
    size: Size
    kind: ReservationKind
    state: ReservationState
    created_at: datetime
    note: Annotated[PlainText, Field(max_length=80)] | None = None


class StoreRequests(BaseModel):
    """The store's open requests, oldest first: what its kiosks' staff mode lists."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 64 * 1024  # 200 requests of ~250 bytes

    v: Literal[1] = 1
    store: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    stamp: Stamp
    requests: Annotated[tuple[OpenRequest, ...], Field(max_length=MAX_OPEN_REQUESTS)] = ()


class ReservationTopics:
    """The reservation topics of one kiosk, and its store's topics."""

    def __init__(self, store: str, kiosk: str) -> None:
        base = f"kiosk/{_checked_id(store)}/{_checked_id(kiosk)}/reservation"
        self.request, self.response, self.changes = f"{base}/request", f"{base}/response", f"{base}/changes"
        self.store_wildcard = f"store/{store}/#"  # what the kiosk subscribes to of its store
        self.stock_wildcard = f"store/{store}/stock/+"
        self.requests = store_requests_topic(store)


RESERVATION_REQUESTS_WILDCARD = "kiosk/+/+/reservation/request"


def stock_topic(store: str, sku: str) -> str:
    """Where HQ keeps ``sku``'s ``StockLevel`` in ``store`` (retained)."""
    return f"store/{_checked_id(store)}/stock/{sku}"


def store_requests_topic(store: str) -> str:
    """Where HQ keeps ``store``'s ``StoreRequests`` (retained)."""
    return f"store/{_checked_id(store)}/requests"
