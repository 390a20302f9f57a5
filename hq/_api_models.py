"""Bodies HQ's HTTP API takes and answers with; they make its OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from hq._holds_models import ExportedReservation, ReservationOut
from hq._order_models import OrderOut
from kiosk_protocol import SHOPPER_PATTERN as SHOPPER_PATTERN  # a URL's shopper id: the contract's rule
from kiosk_protocol import ConsentStatus, DisplayName, EventKind, Sku

PreferenceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
PreferenceValue = Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ViewIn(_In):
    """A signed-in shopper looked at a product on the web shop or in the app."""

    sku: Sku
    session: uuid.UUID | None = Field(default=None, description="The channel's session; a new one if absent.")
    event_id: uuid.UUID | None = Field(
        default=None, description="Give one to make retries safe: an id HQ already has is not stored again.")


class AnonymousViewIn(_In):
    """A shopper not signed in looked at a product; joins their profile if they grant consent in this session."""

    sku: Sku
    event_id: uuid.UUID | None = Field(
        default=None, description="Give one to make retries safe: an id HQ already has is not stored again.")


class ConsentIn(_In):
    """The shopper's answer to linking their visits to their profile."""

    status: ConsentStatus
    session: uuid.UUID | None = Field(
        default=None, description="With 'granted': this session's anonymous views join the profile.")


class PreferenceIn(_In):
    """A preference's new value."""

    value: PreferenceValue


class DisplayNameIn(_In):
    """What channels may call the shopper by."""

    display_name: DisplayName = Field(description="1 to 64 characters; no control or format characters, no padding.")


class EventOut(BaseModel):
    """What HQ did with a posted event."""

    event_id: uuid.UUID
    duplicate: bool = Field(description="True if HQ already had an event with this id (nothing changed).")


class HistoryEntry(BaseModel):
    """One event of the shopper's history, from any channel."""

    event_id: uuid.UUID
    kind: EventKind
    channel: str = Field(description="'web', 'app'... or 'kiosk:<kiosk>'.")
    store: str
    kiosk: str
    sku: str | None
    at: datetime


class CouponOut(BaseModel):
    """One of the shopper's coupons."""

    offer: str = Field(description="The offer's id.")
    title: dict[str, str] = Field(description="The offer's title by language; empty when HQ no longer has it.")
    state: str = Field(description="scheduled, running, ended, or used (no redemption left).",
                       json_schema_extra={"enum": ["scheduled", "running", "ended", "used"]})
    starts: datetime | None
    ends: datetime | None
    used: int = Field(description="Redemptions made.")
    left: int = Field(description="Redemptions still possible (0 once used up or ended).")
    saved_at: datetime
    channel: str = Field(description="Where it was saved: 'web', 'app'... or 'kiosk:<kiosk>'.")


class ProfileOut(BaseModel):
    """A shopper's profile as every channel sees it."""

    shopper: str
    consent: ConsentStatus | None
    wishlist: list[str]
    preferences: dict[str, str]
    display_name: str | None = Field(description="What channels may call the shopper by; null when none is set.")
    history: list[HistoryEntry] = Field(description="Oldest first; the newest `history_limit` events.")
    coupons: list[CouponOut] = Field(description="The offers saved to the shopper's card, oldest saved first.")
    orders: list[OrderOut] = Field(description="The shopper's newest 20 orders from every channel, newest first.")
    reservations: list[ReservationOut] = Field(default_factory=list,
                                               description="The shopper's open reservations, newest first.")


class WishlistOut(BaseModel):
    """The wishlist after a change."""

    shopper: str
    wishlist: list[str]
    hlc: str = Field(description="The hybrid logical timestamp the change was stored with.")


class ConsentOut(BaseModel):
    """The consent in force after a change."""

    shopper: str
    consent: ConsentStatus | None
    hlc: str


class PreferencesOut(BaseModel):
    """The preferences after a change."""

    shopper: str
    preferences: dict[str, str]
    hlc: str


class DisplayNameOut(BaseModel):
    """The display name after a change."""

    shopper: str
    display_name: str | None
    hlc: str


class ConsentLogEntry(BaseModel):
    """One consent change, kept for the record."""

    status: ConsentStatus
    hlc: str
    channel: str
    at: datetime


class CardVisitEntry(BaseModel):
    """A kiosk visit in which HQ checked the shopper's card."""

    session: str
    store: str
    kiosk: str
    verified_at: datetime


class ExportedEvent(BaseModel):
    """One stored event, as exported."""

    event_id: uuid.UUID
    profile_key: str
    kind: EventKind
    store: str
    kiosk: str
    sku: str | None
    at: datetime


class ExportedCoupon(BaseModel):
    """A saved coupon, as exported."""

    offer: str
    saved_at: datetime
    channel: str


class ExportedRedemption(BaseModel):
    """One redemption of a coupon, as exported."""

    redemption_id: str
    offer_id: str
    number: int
    channel: str
    redeemed_at: datetime


class ExportOut(BaseModel):
    """Everything HQ holds about a shopper."""

    shopper: str
    consent: ConsentStatus | None
    consent_log: list[ConsentLogEntry]
    linked_sessions: list[str]
    card_visits: list[CardVisitEntry]
    wishlist: list[str]
    preferences: dict[str, str]
    display_name: str | None
    history: list[ExportedEvent]
    coupons: list[ExportedCoupon]
    redemptions: list[ExportedRedemption]
    orders: list[OrderOut] = Field(description="Every order of the shopper's, newest first.")
    reservations: list[ExportedReservation] = Field(default_factory=list)


class EraseOut(BaseModel):
    """What an erase removed."""

    shopper: str
    erased_events: int
    fleet_told: bool = Field(description="Every kiosk was told to drop what it caches of the shopper.")


class ApiError(BaseModel):
    """Every error HQ's API answers with."""

    error: str = Field(description="A stable code: unauthorized, invalid_request, unknown_shopper...")
    detail: Any = Field(description="What went wrong, for a person.")


def error_responses(**descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI's error answers: those every HQ route may give, plus ``descriptions`` (``e401="..."``)."""
    common = {400: "The body is not JSON", 413: "The body is larger than this route takes",
              422: "The request does not fit this API",
              429: "Too many wrong keys from this address; retry after Retry-After"}
    common.update({int(code.removeprefix("e")): text for code, text in descriptions.items()})
    return {code: {"model": ApiError, "description": text} for code, text in sorted(common.items())}


class HealthOut(BaseModel):
    """Whether this HQ process can serve."""

    status: str
    database: str
