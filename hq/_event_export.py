"""What shoppers looked at and bought, out of HQ's profile database, for the suggestion model
(``kiosk hq export-events``, then ``kiosk recommender build --events``).

The file is session-rec's tab-separated click log (``recommender._events``) with a
``Kind`` column: ``SessionId ItemId Time Channel Store Kind``, a header line first.

- ``view`` rows: each product view HQ holds (a kiosk's tap, the web shop's or the app's
  view), one session per visit (the kiosk's visit, the channel's session), in time order;
- ``order`` rows: each line of each order, one session per order (``order:<order_id>``);
- ``shown`` rows: each suggestion a kiosk put on screen (an impression: ``suggestion_shown``),
  one row per product shown, in screen order, in the visit's session.

``Channel`` is the recommender's: ``kiosk`` for a kiosk's view or order, ``web`` or
``app`` for theirs (another online channel counts as ``web``), ``store`` for a sale at a
store's till. ``Store`` is the store's id, empty for what happened online. Nothing names a
shopper: an order's session is its own, a view's the visit's.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from hq._orders import order_lines, orders
from hq._schema import events
from hq._store import shown_skus
from kiosk_protocol import ONLINE_STORE, EventKind

HEADER = ("SessionId", "ItemId", "Time", "Channel", "Store", "Kind")
SHOWN = "shown"  # the ``Kind`` of a suggestion's impression (the recommender's ``SHOWN``)
ORDER_SESSION_PREFIX = "order:"
_ONLINE_CHANNELS = {"web": "web", "app": "app"}  # the recommender's own; any other online channel is "web"
_BATCH = 5000
_Rows = sa.Select[str, str, datetime, str, str]  # session (or order), SKU, when, where, channel (or kiosk)


@dataclass(frozen=True)
class ExportedEvents:
    """How much an export wrote."""

    views: int
    visits: int
    order_lines: int
    orders: int
    shown: int = 0  # suggestions put on screen

    def __str__(self) -> str:
        return (f"{self.views} views in {self.visits} visits, {self.order_lines} order lines "
                f"of {self.orders} orders, {self.shown} suggestions shown")


def export_events(engine: sa.Engine, out: Path) -> ExportedEvents:
    """Write every view and order line HQ holds to ``out`` (replaced whole once it is written)."""
    partial = out.with_name(f".{out.name}.partial")
    views = visits = lines = placed = shown = 0
    last_visit = last_order = None
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle, engine.connect() as db:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(HEADER)
            for session, sku, at, store, kiosk in _streamed(db, _views()):
                writer.writerow((session, sku, _seconds(at), view_channel(store, kiosk),
                                 "" if store == ONLINE_STORE else store, "view"))
                views += 1
                visits += session != last_visit
                last_visit = session
            for order_id, sku, at, channel, store in _streamed(db, _order_lines()):
                writer.writerow((ORDER_SESSION_PREFIX + order_id, sku, _seconds(at), order_channel(channel, store),
                                 "" if store == ONLINE_STORE else store, "order"))
                lines += 1
                placed += order_id != last_order
                last_order = order_id
            for session, skus, at, store, kiosk in _streamed(db, _shown()):
                for sku in shown_skus(skus):
                    writer.writerow((session, sku, _seconds(at), view_channel(store, kiosk), store, SHOWN))
                    shown += 1
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return ExportedEvents(views, visits, lines, placed, shown)


def view_channel(store: str, kiosk: str) -> str:
    """The recommender's channel of a view from ``store``/``kiosk`` (an online channel's is ``online``/its name)."""
    return _ONLINE_CHANNELS.get(kiosk, "web") if store == ONLINE_STORE else "kiosk"


def order_channel(channel: str, store: str) -> str:
    """The recommender's channel of an order bought through ``channel`` at ``store``."""
    if channel.startswith("kiosk:"):
        return "kiosk"
    if channel in _ONLINE_CHANNELS:
        return _ONLINE_CHANNELS[channel]
    return "web" if store == ONLINE_STORE else "store"  # a store's till, or another online channel


def _views() -> _Rows:
    return (sa.select(events.c.session, events.c.sku, events.c.at, events.c.store, events.c.kiosk)
            .where(events.c.kind == EventKind.PRODUCT_VIEW.value, events.c.sku.is_not(None))
            .order_by(events.c.session, events.c.at, events.c.seq))


def _shown() -> _Rows:
    return (sa.select(events.c.session, events.c.detail, events.c.at, events.c.store, events.c.kiosk)
            .where(events.c.kind == EventKind.SUGGESTION_SHOWN.value, events.c.detail.is_not(None))
            .order_by(events.c.session, events.c.at, events.c.seq))


def _order_lines() -> _Rows:
    return (sa.select(orders.c.order_id, order_lines.c.sku, orders.c.at, orders.c.channel, orders.c.store)
            .join(order_lines, order_lines.c.order_id == orders.c.order_id)
            .order_by(orders.c.order_id, order_lines.c.line))


def _streamed(db: sa.Connection, query: _Rows
              ) -> Iterator[tuple[str, str, datetime, str, str]]:
    """The query's rows a batch at a time (a server-side cursor on PostgreSQL): HQ's history may be large."""
    for row in db.execution_options(yield_per=_BATCH).execute(query):
        yield tuple(row)  # type: ignore[misc]  # a Row is its tuple


def _seconds(moment: datetime) -> str:
    """Unix seconds, to the millisecond (SQLite gives back naive datetimes; HQ stores UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.timestamp():.3f}"
