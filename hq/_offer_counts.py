"""How often each offer was met, for the dashboard: one query per kind of count, each a
GROUP BY in the database, so no event is ever loaded to be counted.

Sign taps are counted per offer and store (an ``offer_tap`` event keeps its offer id in
the events table's ``detail``); coupons saved and redeemed per offer, in every channel
(a coupon names no store: it is saved at one kiosk and redeemed at any till or online).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa

from hq._coupons import coupons, redemptions
from hq._schema import OFFER_TAP_ROWS, events


@dataclass(frozen=True)
class OfferCounts:
    """Counts by offer id: sign taps also by store."""

    sign_taps: dict[tuple[str, str], int] = field(default_factory=dict)  # (offer, store) -> taps
    saves: dict[str, int] = field(default_factory=dict)  # offer -> coupons saved
    redemptions: dict[str, int] = field(default_factory=dict)  # offer -> coupons redeemed

    def taps(self, offer_id: str, store: str) -> int:
        return self.sign_taps.get((offer_id, store), 0)


def offer_counts(engine: sa.Engine, offer_ids: Collection[str]) -> OfferCounts:
    """The counts of the offers ``offer_ids``: three GROUP BY queries on one connection."""
    if not offer_ids:
        return OfferCounts()
    ids = sorted(offer_ids)
    taps = (sa.select(events.c.detail, events.c.store, sa.func.count())
            .where(OFFER_TAP_ROWS, events.c.detail.in_(ids))
            .group_by(events.c.detail, events.c.store))
    saves = (sa.select(coupons.c.offer_id, sa.func.count()).where(coupons.c.offer_id.in_(ids))
             .group_by(coupons.c.offer_id))
    redeemed = (sa.select(redemptions.c.offer_id, sa.func.count()).where(redemptions.c.offer_id.in_(ids))
                .group_by(redemptions.c.offer_id))
    with engine.connect() as db:
        sign_taps = {(offer, store): int(count) for offer, store, count in db.execute(taps)}
        saved = {offer: int(count) for offer, count in db.execute(saves)}
        redemption_counts = {offer: int(count) for offer, count in db.execute(redeemed)}
    return OfferCounts(sign_taps=sign_taps, saves=saved, redemptions=redemption_counts)
