"""Orders: what a shopper bought, in any channel (the web shop, the app, a store's till, a
reservation collected in store), kept at HQ beside their profile.

- **Once by id.** An order is stored once by its ``order_id``, whichever channel sends it
  and however often: the first stands, a retry with the same content finds it, and the
  same id with other content is refused (``OrderConflict``).
- **Nothing dropped.** A line whose SKU or size the catalog does not know is stored all
  the same, with its ``flag`` (``unknown_sku``, ``unknown_size``), so the till's record
  stays whole and the mismatch can be put right; ``line_flags`` decides them.
- **The shopper's.** An order names its shopper's profile, or none (an order without a
  known shopper). Placing one for a shopper is a change in the log (``order_placed``), in
  the same transaction. An erase unlinks the shopper's orders: the sale stays on the
  retailer's books, nothing ties it to the person any more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._analytics import Analytics
from hq._changes import ChangeLog, order_placed_change
from hq._changes import append as append_changes
from hq._schema import _KEY, metadata
from kiosk_protocol import MAX_ORDER_SKUS, Catalog, OrderSummary

UNKNOWN_SKU = "unknown_sku"
UNKNOWN_SIZE = "unknown_size"

orders = sa.Table(
    "orders", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("profile_key", _KEY, nullable=True, index=True),  # None: no known shopper (or erased)
    sa.Column("channel", sa.String(64), nullable=False),  # where it was bought: web, app, till, kiosk:<id>
    sa.Column("store", sa.String(64), nullable=False),  # a store's id, or ``online``
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),  # the API channel that sent it
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)
order_lines = sa.Table(
    "order_lines", metadata,
    sa.Column("order_id", sa.String(64), primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),  # 1, 2...: the order's own order of lines
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("size", sa.String(32), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.Numeric(12, 2), nullable=False),
    sa.Column("flag", sa.String(32), nullable=True),  # UNKNOWN_SKU, UNKNOWN_SIZE, or None
)


class OrderConflict(Exception):
    """An order id already stored with other content."""


@dataclass(frozen=True)
class OrderLine:
    sku: str
    size: str
    quantity: int
    unit_price: Decimal
    # HQ's, not the channel's: a retry is the same order though the catalog changed meanwhile.
    flag: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Order:
    """An order as HQ holds it; ``shopper`` is None for an order without a known shopper."""

    order_id: str
    shopper: str | None
    channel: str
    store: str
    at: datetime
    lines: tuple[OrderLine, ...]
    recorded_by: str = field(default="", compare=False)

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0.00"))

    @property
    def flagged(self) -> list[str]:
        """The flags of its lines, one per flagged line."""
        return [line.flag for line in self.lines if line.flag]


def order_summary(order: Order) -> OrderSummary:
    """``order`` as a kiosk's welcome screen lists it."""
    skus = tuple(dict.fromkeys(line.sku for line in order.lines))[:MAX_ORDER_SKUS]
    return OrderSummary(order_id=order.order_id, at=order.at, store=order.store, channel=order.channel, skus=skus,
                        lines=len(order.lines), total=order.total)


def line_flags(catalog: Catalog | None, lines: Sequence[tuple[str, str]]) -> list[str | None]:
    """Each (sku, size)'s flag against ``catalog`` (none checked without one)."""
    if catalog is None:
        return [None] * len(lines)
    products = {product.sku: product for product in catalog.products}
    flags: list[str | None] = []
    for sku, size in lines:
        product = products.get(sku)
        flags.append(UNKNOWN_SKU if product is None else UNKNOWN_SIZE if size not in product.sizes else None)
    return flags


class Orders:
    """Every order at HQ (``ProfileStore.orders``); ``flagged_lines`` counts stored lines by flag."""

    def __init__(self, engine: sa.Engine, changes: ChangeLog,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), analytics: Analytics | None = None) -> None:
        self._engine = engine
        self._changes = changes
        self._clock = clock
        self._analytics = analytics  # what its shopper looked at before, counted as ordered
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self.flagged_lines: dict[str, int] = {}

    def place(self, order: Order) -> tuple[Order, bool]:
        """Store ``order`` once; the order as stored and whether it is new.

        Raises:
            OrderConflict: its id is stored with other content.
        """
        with self._changes.writing() as db:
            return self.place_in(db, order)

    def place_in(self, db: sa.Connection, order: Order) -> tuple[Order, bool]:
        """``place``, in ``db``'s transaction (a collected reservation becomes an order in its own)."""
        key = f"shopper:{order.shopper}" if order.shopper else None
        inserted = db.execute(self._insert(orders).values(
            order_id=order.order_id, profile_key=key, channel=order.channel, store=order.store, at=order.at,
            recorded_by=order.recorded_by, received_at=self._clock(),
        ).on_conflict_do_nothing(index_elements=["order_id"]).returning(orders.c.order_id)).first()
        if inserted is None:
            stored = self._read(db, order.order_id)
            if stored is None or stored != order:
                raise OrderConflict(f"order {order.order_id} is already stored with other content")
            return stored, False
        db.execute(order_lines.insert(), [
            {"order_id": order.order_id, "line": number, "sku": line.sku, "size": line.size,
             "quantity": line.quantity, "unit_price": line.unit_price, "flag": line.flag}
            for number, line in enumerate(order.lines, start=1)])
        for flag in order.flagged:
            self.flagged_lines[flag] = self.flagged_lines.get(flag, 0) + 1
        if self._analytics is not None:
            self._analytics.order_placed_in(db, order.shopper, [line.sku for line in order.lines], order.at)
        if order.shopper:
            append_changes(db, [order_placed_change(order.shopper, order.store, order.channel, order.order_id,
                                                    len(order.lines), order.total, order.at)])
        return order, True

    def get(self, order_id: str) -> Order | None:
        with self._engine.connect() as db:
            return self._read(db, order_id)

    def of(self, key: str, limit: int | None = None) -> list[Order]:
        """The orders of profile ``key``, newest first (the newest ``limit`` when given)."""
        query = (sa.select(orders.c.order_id).where(orders.c.profile_key == key)
                 .order_by(orders.c.at.desc(), orders.c.order_id).limit(limit))
        with self._engine.connect() as db:
            read = [self._read(db, order_id) for order_id in db.execute(query).scalars()]
        return [order for order in read if order is not None]

    def unlink_in(self, db: sa.Connection, key: str) -> None:
        """Take profile ``key``'s orders off it (an erase), in ``db``'s transaction."""
        db.execute(orders.update().where(orders.c.profile_key == key).values(profile_key=None))

    def _read(self, db: sa.Connection, order_id: str) -> Order | None:
        row = db.execute(sa.select(orders).where(orders.c.order_id == order_id)).first()
        if row is None:
            return None
        lines = db.execute(sa.select(order_lines).where(order_lines.c.order_id == order_id)
                           .order_by(order_lines.c.line)).all()
        return Order(row.order_id, row.profile_key.removeprefix("shopper:") if row.profile_key else None,
                     row.channel, row.store, _utc(row.at),
                     tuple(OrderLine(line.sku, line.size, line.quantity, Decimal(line.unit_price), line.flag)
                           for line in lines), row.recorded_by)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
