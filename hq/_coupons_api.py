"""Coupons over HTTP: save an offer to a shopper's card, list their coupons, redeem one.

- ``PUT /v1/shoppers/{shopper}/coupons/{offer}`` saves it (201; 200 when it was already
  saved: saving is idempotent). The save is a ``coupon_save`` change stored through the
  profile store like every channel's, so it enters the change log (``coupon_saved``), the
  live push and the webhooks. A members' offer is saved only for a member: a shopper
  whose HQ-signed card HQ has checked at a kiosk (``_coupons``).
- ``GET /v1/shoppers/{shopper}/coupons`` lists them, each with its state and the
  redemptions used and left.
- ``POST /v1/shoppers/{shopper}/coupons/{offer}/redeem`` with an ``Idempotency-Key``
  header redeems it once: a retry with the same key answers the same redemption; any
  other beyond the offer's limit is ``409 already_redeemed``, decided by the database.

An offer id that does not fit the offer ids' pattern is a 404 like an unknown one: it
names no offer, whatever it holds.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from hq._api_models import SHOPPER_PATTERN, ApiError, CouponOut, error_responses
from hq._coupons import Coupon, CouponRefused, Redemption, save_refusal
from hq._guard import authenticated_grant, channel_dependency
from hq._store import ProfileStore, shopper_key
from hq.exceptions import ApiRefusal
from kiosk_protocol import OFFER_ID_PATTERN, ONLINE_STORE, EventKind, Hlc

IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,200}$"  # printable ASCII, no spaces: what a client's UUID or token is

Shopper = Annotated[str, PathParam(pattern=SHOPPER_PATTERN, description="The shopper's id (as on their card).")]
OfferPath = Annotated[str, PathParam(description="The offer's id (as on its sign).")]
RecordChange = Callable[..., Hlc]  # ``_api``'s: stores one profile change from a channel


class CouponsOut(BaseModel):
    """The shopper's coupons, oldest saved first."""

    shopper: str
    coupons: list[CouponOut]


class RedemptionOut(BaseModel):
    """A redemption of a coupon: the same for every retry with its Idempotency-Key."""

    redemption_id: str
    shopper: str
    offer: str
    number: int = Field(description="Which of the offer's per-shopper redemptions this is (1 for the first).")
    left: int = Field(description="Redemptions left of the coupon after this one.")
    channel: str = Field(description="The channel that redeemed it.")
    redeemed_at: datetime


def coupon_out(coupon: Coupon, now: datetime) -> CouponOut:
    """A coupon as the API (and the profile) answers with it."""
    offer = coupon.offer
    state = coupon.state(now)
    return CouponOut(offer=coupon.offer_id, title=offer.title.model_dump() if offer else {}, state=state,
                     starts=offer.starts if offer else None, ends=offer.ends if offer else None, used=coupon.used,
                     left=coupon.left if state in ("running", "scheduled") else 0, saved_at=coupon.saved_at,
                     channel=coupon.channel)


def coupons_router(store: ProfileStore, api_key: APIKeyHeader, record_change: RecordChange,
                   clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The coupon routes under ``/v1/shoppers/{shopper}/coupons``."""
    router = APIRouter(prefix="/v1/shoppers/{shopper}/coupons", tags=["coupons"])
    errors = error_responses(e401="Missing or unknown API key", e503="The profile database is out of reach; retry")

    Channel = Annotated[str, Depends(channel_dependency(api_key))]

    def refused(error: str, text: str) -> dict[str, Any]:
        return {"model": ApiError, "description": f"`{error}`: {text}"}

    def not_erased(shopper: str) -> None:
        if store.is_erased(shopper):
            raise ApiRefusal(410, "erased", "this shopper's profile was erased; HQ keeps nothing more about them")

    def well_formed(offer: str) -> str:
        if not re.fullmatch(OFFER_ID_PATTERN, offer):
            raise ApiRefusal(404, "unknown_offer", "not an offer id: capital letters, digits and '-', at most 48")
        return offer

    def coupon_of(shopper: str, offer: str) -> Coupon | None:
        return next((c for c in store.coupons.of(shopper_key(shopper)) if c.offer_id == offer), None)

    @router.put("/{offer}", status_code=201, responses={
        **errors, 200: {"model": CouponOut, "description": "Already saved (nothing changed)"},
        403: refused("members_only", "a members' offer, and the shopper is no member"),
        404: refused("unknown_offer", "no such offer, or not an offer id"),
        410: refused("offer_ended", "the offer has ended (or `erased`: the profile was erased)")})
    def save_coupon(shopper: Shopper, offer: OfferPath, channel: Channel, response: Response) -> CouponOut:
        """Save an offer to the shopper's card as a coupon, for every channel to see and redeem."""
        not_erased(shopper)
        offer = well_formed(offer)
        now = clock()
        if (held := coupon_of(shopper, offer)) is not None:
            response.status_code = 200
            return coupon_out(held, now)
        refusal = save_refusal(store.offers.get(offer), offer, now, store.coupons.member(shopper_key(shopper)))
        if refusal is not None:
            raise ApiRefusal(refusal.status, refusal.error, refusal.detail)
        record_change(channel, shopper, EventKind.COUPON_SAVE, offer=offer)
        saved = coupon_of(shopper, offer)
        if saved is None:  # refused by the store's own check: the offer changed under the request
            raise ApiRefusal(409, "not_saved", f"offer {offer} could not be saved now; read it and retry")
        return coupon_out(saved, now)

    @router.get("", responses={**errors, 404: refused("unknown_shopper", "HQ holds no profile for them")})
    def list_coupons(shopper: Shopper, channel: Channel) -> CouponsOut:
        """The shopper's coupons, each with its state and the redemptions used and left."""
        if not store.has_profile(shopper):
            raise ApiRefusal(404, "unknown_shopper", f"HQ holds no profile for {shopper!r}")
        now = clock()
        return CouponsOut(shopper=shopper, coupons=[coupon_out(c, now) for c in store.coupons.of(shopper_key(shopper))])

    @router.post("/{offer}/redeem", responses={
        **errors,
        404: refused("no_coupon", "the shopper never saved this offer (or `unknown_offer`: not an offer id)"),
        409: refused("already_redeemed", "no redemption left (or `offer_not_started`: before its start)"),
        410: refused("offer_ended", "the offer has ended (or `erased`: the profile was erased)")})
    def redeem_coupon(request: Request, shopper: Shopper, offer: OfferPath, channel: Channel,
                      idempotency_key: Annotated[str, Header(pattern=IDEMPOTENCY_KEY, description=(
                          "Required: one per redemption the channel means to make; a retry with the same key "
                          "answers the same redemption."))]) -> RedemptionOut:
        """Redeem the shopper's coupon once, in any channel: never more often than the offer allows."""
        not_erased(shopper)
        offer = well_formed(offer)
        try:
            made = store.coupons.redeem(shopper, shopper_key(shopper), offer, idempotency_key, channel,
                                        where=authenticated_grant(request).store or ONLINE_STORE)
        except CouponRefused as exc:
            raise ApiRefusal(exc.status, exc.error, exc.detail) from exc
        return redemption_out(shopper, made)

    return router


def redemption_out(shopper: str, made: Redemption) -> RedemptionOut:
    return RedemptionOut(redemption_id=made.redemption_id, shopper=shopper, offer=made.offer_id, number=made.number,
                         left=made.left, channel=made.channel, redeemed_at=made.redeemed_at)
