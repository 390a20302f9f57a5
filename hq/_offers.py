"""HQ's offers, by id: merged in by ``kiosk hq offers import``, read by the catalog bundle,
the coupon API, the phone pages and the dashboard.

Each offer is kept whole, as the shared model's JSON, beside the columns a query picks by;
its table joins the store's metadata, so it is created with the store's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from hq._schema import metadata
from kiosk_protocol import Offer

offers = sa.Table(
    "offers", metadata,
    sa.Column("offer_id", sa.String(48), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("starts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Merged:
    """What one merge did."""

    added: int
    updated: int
    unchanged: int


class OfferBook:
    """Every offer HQ knows, ended ones included (the dashboard and the coupon API name them)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def merge(self, incoming: Iterable[Offer]) -> Merged:
        """Add new offers and replace those with the same id, in one transaction."""
        batch = {offer.id: offer for offer in incoming}
        now = datetime.now(UTC)
        added = updated = 0
        with self._engine.begin() as db:
            held = {row.offer_id: row.body for row in
                    db.execute(sa.select(offers.c.offer_id, offers.c.body).where(offers.c.offer_id.in_(batch)))}
            for offer_id, offer in batch.items():
                body = offer.model_dump_json()
                row = {"body": body, "starts": offer.starts, "ends": offer.ends, "updated_at": now}
                if offer_id not in held:
                    db.execute(offers.insert().values(offer_id=offer_id, **row))
                    added += 1
                elif held[offer_id] != body:
                    db.execute(offers.update().where(offers.c.offer_id == offer_id).values(**row))
                    updated += 1
        return Merged(added, updated, len(batch) - added - updated)

    def get(self, offer_id: str) -> Offer | None:
        with self._engine.connect() as db:
            body = db.scalar(sa.select(offers.c.body).where(offers.c.offer_id == offer_id))
        return None if body is None else Offer.model_validate_json(body)

    def all(self, stores: Collection[str] | None = None) -> list[Offer]:
        """Every offer in id order; with ``stores``, those running in any of them."""
        with self._engine.connect() as db:
            rows = db.scalars(sa.select(offers.c.body).order_by(offers.c.offer_id)).all()
        found = [Offer.model_validate_json(body) for body in rows]
        return found if stores is None else [o for o in found if any(o.runs_in(s) for s in stores)]
