"""Offers: what a sign tag points at, what a product costs under one, what a coupon redeems.

HQ imports offers and ships those of each store inside the signed catalog bundle
(``offers.json``); kiosks, the phone pages and the coupon API read them with this model.
Money is ``Decimal`` and rounds half up to the cent, so every channel shows the same price.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from kiosk_protocol.catalog import PlainText, Product, Sku, Texts
from kiosk_protocol.exceptions import CatalogError

OFFERS_FILE: Final = "offers.json"  # its name in a catalog bundle
# An offer id travels in sign tags' URIs (https://<shop>/o/<id>) and in coupon routes.
OFFER_ID_PATTERN: Final = r"^[A-Z0-9][A-Z0-9-]{0,47}$"
OfferId = Annotated[str, Field(pattern=OFFER_ID_PATTERN)]
StoreId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
CENT: Final = Decimal("0.01")


class DiscountKind(enum.Enum):
    """How an offer lowers a price."""

    PERCENT = "percent"  # this many percent off
    AMOUNT = "amount"  # this much off
    PRICE = "price"  # this price instead


class Audience(enum.Enum):
    """Who an offer is for."""

    EVERYONE = "everyone"
    MEMBERS = "members"  # shoppers with an HQ-signed loyalty card


class OfferState(enum.Enum):
    """Where an offer stands in its time window."""

    SCHEDULED = "scheduled"
    RUNNING = "running"
    ENDED = "ended"


def cents(amount: Decimal | float) -> Decimal:
    """``amount`` rounded half up to the cent (a float price is read by its shortest repr)."""
    return Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)


class Discount(BaseModel):
    """What an offer takes off."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: DiscountKind
    value: Annotated[Decimal, Field(ge=0, max_digits=9, decimal_places=2, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _sane(self) -> Discount:
        if self.kind is DiscountKind.PERCENT and not 0 < self.value <= 100:
            raise ValueError(f"a percent discount is over 0 and at most 100, not {self.value}")
        if self.kind is DiscountKind.AMOUNT and self.value == 0:
            raise ValueError("an amount off of 0 takes nothing off")
        return self

    def lowers(self, price: Decimal) -> bool:
        """Whether the discount is one on ``price``: never more than it, never a higher price."""
        if self.kind is DiscountKind.PERCENT:
            return True
        return self.value < price if self.kind is DiscountKind.PRICE else self.value <= price

    def apply(self, price: Decimal) -> Decimal:
        """``price`` after the discount, in cents; never below 0 nor above ``price``."""
        if self.kind is DiscountKind.PERCENT:
            after = price * (100 - self.value) / 100
        elif self.kind is DiscountKind.AMOUNT:
            after = price - self.value
        else:
            after = self.value
        return cents(min(max(after, Decimal(0)), price))


class Offer(BaseModel):
    """One offer: what it takes off which products, where, when and for whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: OfferId
    title: Texts
    terms: Texts
    discount: Discount
    skus: tuple[Sku, ...] = ()
    category: PlainText | None = None  # a catalog category, its subcategories included
    stores: Annotated[tuple[StoreId, ...], Field(min_length=1)]
    starts: AwareDatetime
    ends: AwareDatetime
    audience: Audience = Audience.EVERYONE
    per_shopper: Annotated[int, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _consistent(self) -> Offer:
        if bool(self.skus) == (self.category is not None):
            raise ValueError("an offer applies to skus or to a category, one of the two")
        if self.ends <= self.starts:
            raise ValueError(f"ends ({self.ends.isoformat()}) is not after starts ({self.starts.isoformat()})")
        return self

    def state(self, now: datetime) -> OfferState:
        """Scheduled before ``starts``, running until ``ends`` (exclusive), ended after."""
        if now < self.starts:
            return OfferState.SCHEDULED
        return OfferState.RUNNING if now < self.ends else OfferState.ENDED

    def runs_in(self, store: str) -> bool:
        return store in self.stores

    def covers(self, product: Product) -> bool:
        """Whether the offer applies to ``product`` (by SKU, or by its category or a parent)."""
        if self.skus:
            return product.sku in self.skus
        assert self.category is not None
        return product.category == self.category or product.category.startswith(self.category + "/")

    def for_members(self) -> bool:
        return self.audience is Audience.MEMBERS


@dataclass(frozen=True)
class PricedOffer:
    """The offer that gives a product its lowest price, and that price beside the usual one."""

    offer: Offer
    price: Decimal
    usual: Decimal


def best_offer(offers: Iterable[Offer], product: Product, store: str, now: datetime, *,
               member: bool) -> PricedOffer | None:
    """The running offer of ``store`` that gives ``product`` its lowest price, if any does.

    Members' offers count only for a ``member``. Offers at the same price go by id, so every
    channel names the same one.
    """
    usual = cents(product.price_in(store))
    priced = [PricedOffer(offer, offer.discount.apply(usual), usual) for offer in offers
              if offer.state(now) is OfferState.RUNNING and offer.runs_in(store) and offer.covers(product)
              and (member or not offer.for_members())]
    cheaper = [p for p in priced if p.price < usual]
    return min(cheaper, key=lambda p: (p.price, p.offer.id)) if cheaper else None


class OfferList(BaseModel):
    """The offers of one bundle (or one import), each id once."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    offers: tuple[Offer, ...]

    @model_validator(mode="after")
    def _unique(self) -> OfferList:
        twice = sorted(offer_id for offer_id, count in Counter(o.id for o in self.offers).items() if count > 1)
        if twice:
            raise ValueError(f"offer ids listed more than once: {', '.join(twice)}")
        return self

    def get(self, offer_id: str) -> Offer | None:
        return next((o for o in self.offers if o.id == offer_id), None)


def offers_json(offers: Iterable[Offer]) -> bytes:
    """The bundle's ``offers.json`` for ``offers``, in id order."""
    listed = OfferList(offers=tuple(sorted(offers, key=lambda o: o.id)))
    return listed.model_dump_json(indent=1).encode()


def parse_offers(data: bytes) -> OfferList:
    """Validate an ``offers.json``.

    Raises:
        CatalogError: not JSON, or an offer is invalid (the message says which and why).
    """
    try:
        return OfferList.model_validate_json(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'offers'}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise CatalogError(f"offers are not valid: {problems}") from None


def load_offers(path: Path) -> OfferList:
    """Read and validate an ``offers.json`` (raises CatalogError)."""
    try:
        return parse_offers(path.read_bytes())
    except OSError as exc:
        raise CatalogError(f"cannot read offers {path}: {exc}") from None
