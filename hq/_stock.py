"""Stock at HQ: per store, SKU and size, the ``units`` on hand and how many of them are
``held`` by open reservations (``_reservations``), so every channel sees what is free.

- **From the catalog first.** Before a store's first stock feed its stock is the catalog's
  (``Product.stock_in(store)``): ``load_catalog`` writes it into the table at start and
  whenever the catalog file changes, for stores without a feed only.
- **Then from the store's feed.** A feed (``PUT /v1/stores/{store}/stock``) gives absolute
  units for the SKU/sizes it lists (the others keep theirs) under a version: a newer version
  applies; the same version again is answered as applied if its body is the same (its
  digest is kept) and refused otherwise (``version_conflict``); an older one is refused
  (``stale_version``). From the first feed on, the catalog no longer touches that store.
- **Held is HQ's own.** A feed or the catalog sets ``units`` only; holds move ``held``, and a
  collected reservation takes its unit out of both.
- **Revisions.** Each row changed carries the revision of the transaction that changed it
  (``_revisions``; a feed or catalog repeating a row's units leaves it as it is), for the
  live follower that publishes each SKU's free units to the store's kiosks (``_live``).

A store's feed and a catalog load take the same per-store lock (PostgreSQL advisory lock),
so a catalog load never writes over a feed that committed while it ran.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._revisions import PENDING, stamp_pending
from hq._schema import metadata
from kiosk_protocol import Catalog

_STORE_LOCK = 7_310_002  # with the store's hash: the advisory lock a store's feed and a catalog load take

stock = sa.Table(
    "stock", metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column("sku", sa.String(32), primary_key=True),
    sa.Column("size", sa.String(32), primary_key=True),
    sa.Column("units", sa.Integer, nullable=False),
    sa.Column("held", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),  # of its last change (``_revisions``)
    sa.CheckConstraint("units >= 0", name="stock_units_not_negative"),
    sa.CheckConstraint("held >= 0", name="stock_held_not_negative"),
)
stock_feeds = sa.Table(
    "stock_feeds", metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),  # sha256 of the feed's body, canonical JSON
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

StockBody = Mapping[str, Mapping[str, int]]  # SKU -> size -> units


class FeedRefused(Exception):
    """A stock feed not applied: ``error`` is the API's code (``stale_version``, ``version_conflict``)."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error, self.detail = error, detail


@dataclass(frozen=True)
class SizeStock:
    """One size of one SKU in one store."""

    sku: str
    size: str
    units: int
    held: int

    @property
    def available(self) -> int:
        """Units free to hold (a feed may have set units below what is held: then none)."""
        return max(0, self.units - self.held)


@dataclass(frozen=True)
class FeedResult:
    """What a feed did: ``applied`` False for a repeat of the version in force."""

    store: str
    version: int
    applied: bool


def feed_digest(body: StockBody) -> str:
    """The digest a feed's body is compared by: the same figures give the same digest in any order."""
    canonical = json.dumps({sku: dict(sizes) for sku, sizes in body.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Stock:
    """Every store's stock (``ProfileStore.stock``); ``catalog`` is the last catalog loaded (its prices)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 committed: Callable[[], None] = lambda: None) -> None:
        self._engine = engine
        self._committed = committed  # wakes this process's followers of stock (``_live``)
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert
        self.catalog: Catalog | None = None
        self.feeds_refused: dict[str, int] = {}  # by error code

    def load_catalog(self, catalog: Catalog) -> int:
        """Write ``catalog``'s stock for every store without a feed; how many rows it wrote."""
        self.catalog = catalog
        written = 0
        with self._engine.begin() as db:
            for store in sorted(s.id for s in catalog.stores):
                self._lock_store(db, store)
                if db.scalar(sa.select(stock_feeds.c.version).where(stock_feeds.c.store == store)) is not None:
                    continue  # the store's own figures stand
                rows = [{"store": store, "sku": product.sku, "size": size, "units": units, "held": 0}
                        for product in catalog.products if product.sold_in(store)
                        for size, units in product.stock_in(store).items()]
                written += self._write_units(db, rows)
            if written:
                stamp_pending(db, stock)  # the counter after every store's rows
        self._committed()
        return written

    def apply_feed(self, store: str, version: int, body: StockBody, channel: str) -> FeedResult:
        """Apply a store's feed of absolute units, once per version.

        Raises:
            FeedRefused: ``stale_version`` (older than the one in force), ``version_conflict``
                (the version in force, with other figures).
        """
        digest = feed_digest(body)
        with self._engine.begin() as db:
            self._lock_store(db, store)
            current = db.execute(sa.select(stock_feeds.c.version, stock_feeds.c.digest)
                                 .where(stock_feeds.c.store == store)).first()
            if current is not None and version <= current.version:
                if version == current.version and digest == current.digest:
                    return FeedResult(store, version, applied=False)
                error = "version_conflict" if version == current.version else "stale_version"
                self.feeds_refused[error] = self.feeds_refused.get(error, 0) + 1
                raise FeedRefused(error, f"{store}'s stock is at version {current.version}: " + (
                    "this version came with other figures; send a newer version" if error == "version_conflict"
                    else f"version {version} is older"))
            if self._write_units(db, [{"store": store, "sku": sku, "size": size, "units": units, "held": 0}
                                      for sku, sizes in sorted(body.items()) for size, units in sorted(sizes.items())]):
                stamp_pending(db, stock)
            statement = self._insert(stock_feeds).values(store=store, version=version, digest=digest, channel=channel,
                                                         applied_at=self._clock())
            db.execute(statement.on_conflict_do_update(
                index_elements=["store"], set_={c: statement.excluded[c] for c in ("version", "digest", "channel",
                                                                                   "applied_at")}))
        self._committed()
        return FeedResult(store, version, applied=True)

    def of(self, store: str, sku: str | None = None) -> list[SizeStock]:
        """A store's stock (of one SKU when given), by SKU then size."""
        query = sa.select(stock.c.sku, stock.c.size, stock.c.units, stock.c.held).where(stock.c.store == store)
        if sku is not None:
            query = query.where(stock.c.sku == sku)
        with self._engine.connect() as db:
            return [SizeStock(*row) for row in db.execute(query.order_by(stock.c.sku, stock.c.size))]

    def version_of(self, store: str) -> int | None:
        """The version of the store's feed in force (None: its stock is still the catalog's)."""
        with self._engine.connect() as db:
            return db.scalar(sa.select(stock_feeds.c.version).where(stock_feeds.c.store == store))

    def price(self, store: str, sku: str) -> Decimal | None:
        """What ``sku`` costs in ``store`` by the last catalog loaded (None: not known)."""
        product = next((p for p in self.catalog.products if p.sku == sku), None) if self.catalog else None
        return None if product is None else Decimal(str(product.price_in(store))).quantize(Decimal("0.01"))

    def _write_units(self, db: sa.Connection, rows: list[dict[str, object]]) -> int:
        if not rows:
            return 0
        statement = self._insert(stock)
        db.execute(statement.on_conflict_do_update(index_elements=["store", "sku", "size"],
                                                   set_={"units": statement.excluded.units, "revision": PENDING},
                                                   where=stock.c.units != statement.excluded.units),
                   [{**row, "revision": PENDING} for row in rows])
        return len(rows)

    def _lock_store(self, db: sa.Connection, store: str) -> None:
        if self._postgres:  # SQLite takes one writer at a time anyway
            db.execute(sa.select(sa.func.pg_advisory_xact_lock(_STORE_LOCK, sa.func.hashtext(store))))
