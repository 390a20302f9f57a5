"""The dashboard's offers list: ``/fleet/offers`` (the page) and ``/fleet/api/offers`` (its data).

Every offer HQ knows, under each store it runs in, with its state now (scheduled,
running, ended), its window and discount, and how often it was met: sign taps in that
store, coupons saved and redeemed in every channel. The page is a static file like the
fleet page; its data needs a fleet channel's key or sign-in, like the fleet's.
"""


from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hq._api_models import error_responses
from hq._auth import ApiKeys
from hq._dashboard import DASHBOARD_DIR, fleet_channel_check
from hq._offer_counts import OfferCounts, offer_counts
from hq._store import ProfileStore
from kiosk_protocol import Offer, OfferState
from kiosk_protocol.offers import Audience, DiscountKind

_STATE_ORDER = {OfferState.RUNNING: 0, OfferState.SCHEDULED: 1, OfferState.ENDED: 2}


class DiscountOut(BaseModel):
    kind: DiscountKind
    value: Decimal


class StoreOfferOut(BaseModel):
    """One offer in one store, with its counts."""

    offer: str
    title: str = Field(description="In English, as the dashboard speaks")
    state: OfferState
    starts: datetime
    ends: datetime
    discount: DiscountOut
    applies_to: str = Field(description="The SKUs, or the category")
    audience: Audience
    per_shopper: int
    sign_taps: int = Field(description="Sign taps in this store")
    saves: int = Field(description="Coupons saved, in every channel")
    redemptions: int = Field(description="Coupons redeemed, in every channel")


class StoreOffersOut(BaseModel):
    store: str
    offers: list[StoreOfferOut]


class OffersOut(BaseModel):
    """Every offer HQ knows, by store (stores in id order; running, then scheduled, then ended)."""

    stores: list[StoreOffersOut]
    generated_at: datetime


def offers_list(offers: list[Offer], counts: OfferCounts, now: datetime) -> OffersOut:
    """The dashboard's offers by store, at ``now``."""
    by_store: dict[str, list[StoreOfferOut]] = {}
    for offer in offers:
        for store in offer.stores:
            by_store.setdefault(store, []).append(StoreOfferOut(
                offer=offer.id, title=offer.title.en, state=offer.state(now), starts=offer.starts, ends=offer.ends,
                discount=DiscountOut(kind=offer.discount.kind, value=offer.discount.value),
                applies_to=", ".join(offer.skus) if offer.skus else f"{offer.category} (category)",
                audience=offer.audience, per_shopper=offer.per_shopper,
                sign_taps=counts.taps(offer.id, store), saves=counts.saves.get(offer.id, 0),
                redemptions=counts.redemptions.get(offer.id, 0)))
    return OffersOut(generated_at=now, stores=[
        StoreOffersOut(store=store, offers=sorted(rows, key=lambda r: (_STATE_ORDER[r.state], r.starts, r.offer)))
        for store, rows in sorted(by_store.items())])


def offers_router(store: ProfileStore, keys: ApiKeys, api_key: APIKeyHeader,
                  clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The offers list's page and data."""
    FleetChannel = Annotated[str, Depends(fleet_channel_check(keys, api_key, "see the offers"))]
    router = APIRouter(prefix="/fleet", tags=["fleet"])

    @router.get("/offers", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "offers.html", headers={"Cache-Control": "no-cache"})

    @router.get("/api/offers", responses=error_responses(e401="Not signed in", e403="Not a fleet channel"))
    async def offers(channel: FleetChannel) -> OffersOut:
        """Every offer by store: state now, window, discount, sign taps, saves and redemptions."""

        def read() -> OffersOut:
            known = store.offers.all()
            return offers_list(known, offer_counts(store.engine, [o.id for o in known]), clock())

        return await run_in_threadpool(read)

    return router
