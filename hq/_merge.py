"""How a newly stored event changes its profile, inside the ingest transaction.

- wishlist: per SKU the latest add and the latest removal by hybrid logical clock; an
  item is on the list when its add is newer than its removal (set union with removals);
- preferences and display name: the value with the newest HLC (last writer wins, not
  wall time);
- consent: every change kept; the newest by HLC is in force;
- coupons: the earliest save by HLC stands; a save the rules refuse (``_coupons``) stays
  an event only, counted by reason.

Each merge is one upsert whose WHERE decides it, so concurrent ingest workers agree
without reading first; ``merge`` says which events won, for the change log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._coupons import Coupons, is_member, offer_in, save_refusal
from hq._schema import consents, display_names, preferences, wishlist
from kiosk_protocol import EventKind, TapEvent, channel_of

_WISHLIST_KINDS = (EventKind.WISHLIST_ADD, EventKind.WISHLIST_REMOVE)


class ProfileMerge:
    """Merges changes into profiles; ``refused_coupon_saves`` counts saves kept as events only, by reason."""

    def __init__(self, engine: sa.Engine, coupons: Coupons) -> None:
        self._coupons = coupons
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self.refused_coupon_saves: dict[str, int] = {}

    def merge(self, db: sa.Connection, new: Sequence[tuple[TapEvent, str]], now: datetime) -> set[str]:
        """Merge each (event, profile key) into ``db``'s transaction; the ids of the events that won their merge."""
        won: set[str] = set()
        for event, key in sorted(new, key=_lock_order):  # one lock order: concurrent workers never deadlock
            if event.kind in _WISHLIST_KINDS:
                column, rival = ("added", "removed") if event.kind is EventKind.WISHLIST_ADD else ("removed", "added")
                row = self._newest(db, wishlist, {"profile_key": key, "sku": event.sku, column: event.hlc},
                                   ["profile_key", "sku"], column)
                wins = row is not None and (row[rival] is None or row[rival] < event.hlc)  # decides the item
            elif event.kind is EventKind.PREFERENCE:
                wins = self._newest(db, preferences, {"profile_key": key, "key": event.key, "value": event.value,
                                                      "hlc": event.hlc}, ["profile_key", "key"], "hlc",
                                    also=("value",)) is not None
            elif event.kind is EventKind.DISPLAY_NAME:
                wins = self._newest(db, display_names, {"profile_key": key, "display_name": event.display_name,
                                                        "hlc": event.hlc}, ["profile_key"], "hlc",
                                    also=("display_name",)) is not None
            elif event.kind is EventKind.COUPON_SAVE and event.offer and event.hlc:
                wins = self._save_coupon(db, event, key)
            elif event.kind is EventKind.CONSENT and event.consent is not None:
                in_force = db.execute(sa.select(sa.func.max(consents.c.hlc)).where(consents.c.profile_key == key))
                wins = (event.hlc or "") > (in_force.scalar() or "")
                db.execute(consents.insert().values(profile_key=key, status=event.consent.value, hlc=event.hlc,
                                                    session=str(event.session),
                                                    channel=channel_of(event.store, event.kiosk), at=now))
            else:
                continue
            if wins:
                won.add(str(event.event_id))
        return won

    def _save_coupon(self, db: sa.Connection, event: TapEvent, key: str) -> bool:
        assert event.offer and event.hlc
        refusal = save_refusal(offer_in(db, event.offer), event.offer, event.at, is_member(db, key))
        if refusal is not None:
            self.refused_coupon_saves[refusal.error] = self.refused_coupon_saves.get(refusal.error, 0) + 1
            return False
        return self._coupons.save_in(db, key, event.offer, event.hlc, channel_of(event.store, event.kiosk), event.at)

    def _newest(self, db: sa.Connection, table: sa.Table, row: dict[str, Any], keys: list[str], stamp: str,
                also: tuple[str, ...] = ()) -> sa.RowMapping | None:
        """Upsert ``row`` where its ``stamp`` is the newest (HLC text sorts); returns the row if it was written."""
        statement = self._insert(table).values(**row)
        newer = sa.or_(table.c[stamp].is_(None), statement.excluded[stamp] > table.c[stamp])
        written = db.execute(statement.on_conflict_do_update(
            index_elements=keys, set_={column: statement.excluded[column] for column in (stamp, *also)}, where=newer,
        ).returning(*table.c)).first()
        return written._mapping if written is not None else None


def _lock_order(change: tuple[TapEvent, str]) -> tuple[str, str, str]:
    event, key = change
    table = "wishlist" if event.kind in _WISHLIST_KINDS else event.kind.value
    return table, key, event.sku or event.key or event.offer or ""
