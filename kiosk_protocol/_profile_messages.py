"""The shopper's profile on the wire: pulled when their card is tapped, and pushed, change by
change, while they stand at the kiosk.

    kiosk -> HQ   ProfileRequest   profile/request    the card just tapped, and the visit it starts
    HQ -> kiosk   ProfileResponse  profile/response   the profile, as of a cursor of HQ's change log
    HQ -> kiosk   ProfileChange    profile/changes    one change made in another channel since
    kiosk -> HQ   VisitEnded       profile/ended      the visit is over: push no more
    kiosk -> HQ   HandoffRequest   handoff/request    a link to continue the visit on a phone
    HQ -> kiosk   HandoffResponse  handoff/response   the link, signed by HQ

A version 2 request may name its visit (``session``): HQ then answers with version 2
(the display name, and the change log's cursor the profile is as of) and pushes that
visit each later change of the shopper's profile made elsewhere until the kiosk says the
visit ended, the kiosk goes offline, or HQ's bound on a visit passes. A push names the
visit, not the shopper: the kiosk matches it against the visit it has now, and the
message says nothing about whose profile it is. A version 1 request (a kiosk from before
live push) gets a version 1 answer, and no pushes. A version 3 request says the kiosk
reads coupons: its answer carries the shopper's coupons, and the coupons' changes are
pushed to it (as ``ProfileChange`` version 2); a version 2 kiosk gets neither. A version 4
request reads orders and reservations likewise (``ProfileChange`` version 3).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from kiosk_protocol._ids import DisplayName, ShopperId
from kiosk_protocol._store_messages import OrderSummary, Reservation
from kiosk_protocol.contract import CardToken, ConsentStatus, HlcText, PreferenceKey, PreferenceValue, Sku
from kiosk_protocol.offers import OfferId

PROFILE_VERSION: Literal[4] = 4
MAX_CURSOR = 2**53 - 1  # HQ's cursors: integers every JSON reader holds exactly (JavaScript's safe range)
Cursor = Annotated[int, Field(ge=0, le=MAX_CURSOR)]
MAX_COUPONS = 200  # in a profile answer: under 11 KiB of offer ids, well inside its bound
MAX_ORDERS = 5  # the newest, in a profile answer: what the welcome screen lists
MAX_RESERVATIONS = 20  # the shopper's active ones at the asking kiosk's store


class _FieldsOfItsVersion(BaseModel):
    """A message whose newer fields are declared once, in ``FIELD_SINCE`` (field -> the version that added it).

    A message of an older version may not set them, and is encoded without them, not even as
    null: a reader of that version refuses any field it does not know. Each model calls
    ``_refuse_fields_newer_than_its_version`` from its own validator, after its other rules
    (a validator declared here would run before them).
    """

    FIELD_SINCE: ClassVar[Mapping[str, int]]
    MESSAGE_NAME: ClassVar[str]
    if TYPE_CHECKING:
        v: int  # each model declares its own versions

    def _refuse_fields_newer_than_its_version(self) -> None:
        fields = type(self).model_fields  # set: other than its default (None, or no coupons)
        newer = [name for name, since in self.FIELD_SINCE.items()
                 if self.v < since and getattr(self, name) != fields[name].get_default(call_default_factory=True)]
        if newer:
            names = " or ".join(name.replace("_", " ") for name in newer)
            raise ValueError(f"a version {self.v} {self.MESSAGE_NAME} carries no {names}")

    @model_serializer(mode="wrap")
    def _in_its_version(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name, since in self.FIELD_SINCE.items():
            if self.v < since:
                data.pop(name, None)
        return data


class ProfileRequest(BaseModel):
    """A kiosk asks for the profile of the shopper whose card was just tapped there.

    The card's signed token goes along: HQ answers only for the shopper it names. From
    version 2 on, ``session`` (the visit the tap started) asks HQ to push that visit the
    shopper's later changes. Version 3 says the kiosk reads coupons: in the answer, and in
    the changes pushed to it; version 4 the same of orders and reservations.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024  # a card token is at most 1 KiB

    v: Literal[1, 2, 3, 4] = PROFILE_VERSION
    request_id: uuid.UUID
    shopper: ShopperId
    token: CardToken
    session: uuid.UUID | None = None

    @model_validator(mode="after")
    def _session_since_version_2(self) -> ProfileRequest:
        if self.v < 2 and self.session is not None:
            raise ValueError("only a version 2 profile request names its visit")
        return self


class ProfileResponse(_FieldsOfItsVersion):
    """HQ's answer: the shopper's recent cross-channel history and wishlist, or why not.

    Version 2 adds the shopper's display name and ``cursor``: every change in HQ's log up to
    it is in this profile, so a pushed change at or below it is one the kiosk already has.
    Version 3 adds ``coupons``: the offer ids of the shopper's coupons with redemptions left.
    Version 4 adds ``orders`` (the newest, from every channel) and ``reservations`` (the
    shopper's active ones at the asking kiosk's store). An answer is encoded with exactly its
    version's fields.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 64 * 1024  # a long wishlist and preferences
    MESSAGE_NAME: ClassVar[str] = "profile response"
    FIELD_SINCE: ClassVar[Mapping[str, int]] = {"display_name": 2, "cursor": 2, "coupons": 3, "orders": 4,
                                                "reservations": 4}

    v: Literal[1, 2, 3, 4] = PROFILE_VERSION
    request_id: uuid.UUID
    shopper: ShopperId
    error: str | None = None
    consent: ConsentStatus | None = None
    recent_skus: tuple[Sku, ...] = ()
    wishlist: tuple[Sku, ...] = ()
    preferences: dict[str, str] = Field(default_factory=dict)
    display_name: DisplayName | None = None
    cursor: Cursor | None = None
    coupons: Annotated[tuple[OfferId, ...], Field(max_length=MAX_COUPONS)] = ()
    orders: Annotated[tuple[OrderSummary, ...], Field(max_length=MAX_ORDERS)] = ()
    reservations: Annotated[tuple[Reservation, ...], Field(max_length=MAX_RESERVATIONS)] = ()

    @model_validator(mode="after")
    def _fields_of_its_version(self) -> ProfileResponse:
        self._refuse_fields_newer_than_its_version()
        return self


class ChangeKind(enum.Enum):
    """What a pushed change does to the signed-in shopper's profile."""

    WISHLIST_ADD = "wishlist_add"
    WISHLIST_REMOVE = "wishlist_remove"
    PREFERENCE = "preference"
    DISPLAY_NAME = "display_name"
    CONSENT = "consent"
    ERASE = "erase"  # the profile is gone: sign the shopper out and forget them
    COUPON_SAVED = "coupon_saved"  # since version 2: an offer saved to the shopper's card
    COUPON_REDEEMED = "coupon_redeemed"  # since version 2: a coupon redeemed, with how many redemptions are left
    ORDER_PLACED = "order_placed"  # since version 3: an order, from any channel
    RESERVATION = "reservation"  # since version 3: one of the shopper's reservations at this store moved on


# The fields each kind carries (and no other kind may).
_CHANGE_FIELDS: dict[ChangeKind, set[str]] = {
    ChangeKind.WISHLIST_ADD: {"sku", "hlc"},
    ChangeKind.WISHLIST_REMOVE: {"sku", "hlc"},
    ChangeKind.PREFERENCE: {"key", "value", "hlc"},
    ChangeKind.DISPLAY_NAME: {"display_name", "hlc"},
    ChangeKind.CONSENT: {"consent", "hlc"},
    ChangeKind.ERASE: set(),
    ChangeKind.COUPON_SAVED: {"offer", "hlc"},
    ChangeKind.COUPON_REDEEMED: {"offer", "left"},
    ChangeKind.ORDER_PLACED: {"order"},
    ChangeKind.RESERVATION: {"reservation"},
}
_OPTIONAL_FIELDS = {"sku", "key", "value", "display_name", "consent", "hlc", "offer", "left", "order", "reservation"}
# The change version that brought each newer kind, and the profile request version from which a
# kiosk reads it: HQ pushes a kind only to a kiosk whose profile request was of that version or later.
CHANGE_KIND_SINCE = {ChangeKind.COUPON_SAVED: 2, ChangeKind.COUPON_REDEEMED: 2, ChangeKind.ORDER_PLACED: 3,
                     ChangeKind.RESERVATION: 3}
COUPONS_SINCE_REQUEST = 3
ORDERS_SINCE_REQUEST = 4
KIND_SINCE_REQUEST = {kind: COUPONS_SINCE_REQUEST if since == 2 else ORDERS_SINCE_REQUEST
                      for kind, since in CHANGE_KIND_SINCE.items()}


class ProfileChange(_FieldsOfItsVersion):
    """One change to the profile of the shopper signed in at a kiosk, made in another channel.

    ``session`` is the visit it is for (the one the kiosk's profile request named);
    ``cursor`` its place in HQ's change log: HQ pushes at least once, in cursor order, and
    the kiosk drops a cursor it has already had. Version 2 adds the coupon kinds (and
    their ``offer`` and ``left``), version 3 orders and reservations (``order``,
    ``reservation``); a change is encoded with its version's fields only.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 2 * 1024  # the largest (an order of 10 SKUs) is under 800 bytes
    MESSAGE_NAME: ClassVar[str] = "profile change"
    FIELD_SINCE: ClassVar[Mapping[str, int]] = {"offer": 2, "left": 2, "order": 3, "reservation": 3}

    v: Literal[1, 2, 3] = 1
    cursor: Annotated[int, Field(ge=1, le=MAX_CURSOR)]
    session: uuid.UUID
    kind: ChangeKind
    sku: Sku | None = None
    key: PreferenceKey | None = None
    value: PreferenceValue | None = None
    display_name: DisplayName | None = None
    consent: ConsentStatus | None = None
    hlc: HlcText | None = None
    offer: OfferId | None = None
    left: Annotated[int, Field(ge=0, le=1000)] | None = None
    order: OrderSummary | None = None
    reservation: Reservation | None = None

    @model_validator(mode="after")
    def _fields_match_kind(self) -> ProfileChange:
        needed = _CHANGE_FIELDS[self.kind]
        missing = sorted(f for f in needed if getattr(self, f) is None)
        extra = sorted(f for f in _OPTIONAL_FIELDS - needed if getattr(self, f) is not None)
        if missing or extra:
            raise ValueError(f"{self.kind.value} change: missing {missing}, unexpected {extra}")
        if self.v < CHANGE_KIND_SINCE.get(self.kind, 1):
            raise ValueError(f"a {self.kind.value} change is of version {CHANGE_KIND_SINCE[self.kind]} or later")
        self._refuse_fields_newer_than_its_version()
        return self


class VisitEnded(BaseModel):
    """The kiosk's visit ``session`` is over (sign-out, idle wipe, another card): HQ pushes it no more."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 1024

    v: Literal[1] = 1
    session: uuid.UUID


class HandoffRequest(BaseModel):
    """A kiosk asks HQ for a short-lived, single-use link that continues visit ``session`` on a phone.

    It names the shopper only when they are signed in and have consented, with their
    card's token as proof (as a profile request does). The kiosk holds no signing key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024  # a card token is at most 1 KiB

    v: Literal[1] = 1
    request_id: uuid.UUID
    session: uuid.UUID
    shopper: ShopperId | None = None
    token: CardToken | None = None

    @model_validator(mode="after")
    def _shopper_with_card(self) -> HandoffRequest:
        if (self.shopper is None) != (self.token is None):
            raise ValueError("a shopper is named with their card's token, and a token only with its shopper")
        return self


class HandoffResponse(BaseModel):
    """HQ's answer: the link and until when it opens, or why not."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024

    v: Literal[1] = 1
    request_id: uuid.UUID
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://")] | None = None
    expires_at: datetime | None = None
    error: str | None = None
