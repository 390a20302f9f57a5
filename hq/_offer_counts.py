"""How often each offer was met, for the dashboard: one query per kind of count, each a
GROUP BY in the database, so no event is ever loaded to be counted.

Sign taps are counted per offer and store (an ``offer_tap`` event keeps its offer id in
the events table's ``detail``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa

from hq._schema import events
from kiosk_protocol import EventKind


@dataclass(frozen=True)
class OfferCounts:
    """Counts by offer id: sign taps also by store."""

    sign_taps: dict[tuple[str, str], int] = field(default_factory=dict)  # (offer, store) -> taps

    def taps(self, offer_id: str, store: str) -> int:
        return self.sign_taps.get((offer_id, store), 0)


def offer_counts(engine: sa.Engine, offer_ids: Collection[str]) -> OfferCounts:
    """The counts of the offers ``offer_ids``, read in one transaction."""
    if not offer_ids:
        return OfferCounts()
    ids = sorted(offer_ids)
    taps = (sa.select(events.c.detail, events.c.store, sa.func.count())
            .where(events.c.kind == EventKind.OFFER_TAP.value, events.c.detail.in_(ids))
            .group_by(events.c.detail, events.c.store))
    with engine.connect() as db:
        sign_taps = {(offer, store): int(count) for offer, store, count in db.execute(taps)}
    return OfferCounts(sign_taps=sign_taps)
