"""HQ's analytics roll-ups, kept in the same transaction as what they count, so no page view
ever scans the events.

- **Per store and local day.** Counts are kept per (store, local day[, hour]) in the store's
  own time zone (``analytics_stores``, from HQ's catalog: ``Analytics.know_stores``): per
  product looked at (``analytics_product_days``) and shown as a suggestion
  (``analytics_shown_days``), per hour of the day (``analytics_store_hours``), per
  kiosk (``analytics_kiosk_days``), per offer (``analytics_offer_days``) and per store
  (``analytics_store_days``: visits, dwell, sign-ins, consents, the funnel, suggestions).
  A month's answer reads at most days × stores × products rows, by index. A store's time
  zone changed later leaves the days already counted where they were.
- **Visits.** A visit is a kiosk session (``analytics_visits``, one row each): it starts at
  the first of its events HQ stores (a version 3 kiosk's ``visit_start``). Its flags say how
  far it got: a product looked at, a suggestion touched, something kept (wishlist or
  reservation), an order; and whether its shopper signed in, consented, and when it ended.
  Its row is read locked before a flag is turned, so concurrent ingest workers count each
  turn once.
- **Attribution.** A product looked at in a visit (``analytics_visit_products``) is
  wishlisted, reserved or ordered when that happens in the same visit, or by the visit's
  shopper (a visit the shopper agreed to link) within ``ATTRIBUTION_DAYS`` of its start, in
  any channel. Orders (``_orders``) and reservations (``_reservations``) call in here from
  their own transactions.
- **The funnel is nested:** a visit reaches a step when it did that step and every step
  before it (a product looked at → a suggestion touched → kept → ordered).
- **Nobody in it.** The counts name no shopper. Only a linked visit's row holds its profile
  key (for what the shopper keeps or buys later), until an erase (``forget_in``) takes it
  off: the counts stay, the link to the person goes.
- **Few statements.** A batch's counters are summed in Python and written at its end, one
  upsert per table (PostgreSQL: one statement of arrays for all of them, whose text never
  changes, so it is never compiled again), keys sorted so that workers lock rows in one order.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._schema import _KEY, metadata
from kiosk_protocol import ONLINE_STORE, VIEW_KINDS, ConsentStatus, EventKind, Store, TapEvent

ATTRIBUTION_DAYS = 7  # a linked visit's shopper keeping or buying a product it looked at, this many days after
_ZONES_FRESH_S = 60.0  # how long an ingest worker trusts the stores' time zones it read (another process writes them)
_UTC_ZONE = zoneinfo.ZoneInfo("UTC")

# The kinds that name the shopper only in a visit the shopper agreed to link: their profile key may go on the visit.
_LINKED_KINDS = frozenset({*VIEW_KINDS, EventKind.SUGGESTION_SHOWN, EventKind.HANDOFF, EventKind.VISIT_START,
                           EventKind.VISIT_END, EventKind.OFFER_TAP})
_VIEWS = frozenset(VIEW_KINDS)

analytics_stores = sa.Table(
    "analytics_stores", metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("opening_hours", sa.Text, nullable=True),  # the catalog's, as JSON; none: open around the clock
)
visits = sa.Table(
    "analytics_visits", metadata,
    sa.Column("session", sa.String(36), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # local, in the store's time zone
    sa.Column("hour", sa.SmallInteger, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("profile_key", _KEY, nullable=True),  # only a linked visit's, until an erase
    *(sa.Column(flag, sa.Boolean, nullable=False, default=False) for flag in (
        "viewed", "suggested", "kept", "ordered", "signed_in", "consented", "ended")),
    sa.Column("dwell_s", sa.Integer, nullable=True),
)
visit_products = sa.Table(
    "analytics_visit_products", metadata,
    sa.Column("session", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(32), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # of its first view
    *(sa.Column(flag, sa.Boolean, nullable=False, default=False) for flag in ("wishlisted", "reserved", "ordered")),
)
# A shopper's linked visits, for what they keep or buy later.
sa.Index("analytics_visits_shopper", visits.c.profile_key, visits.c.started_at)


def _counts(name: str, keys: Sequence[sa.Column[Any]], counters: Sequence[str]) -> sa.Table:
    """A table of counters by local day first: a range of days, of one store or of all, is one index range."""
    return sa.Table(name, metadata, sa.Column("day", sa.Date, primary_key=True), *keys,
                    *(sa.Column(c, sa.BigInteger, nullable=False, default=0) for c in counters))


def _store() -> sa.Column[Any]:
    return sa.Column("store", sa.String(64), primary_key=True)


product_days = _counts("analytics_product_days", [_store(), sa.Column("sku", sa.String(32), primary_key=True)],
                       ["taps", "visits", "wishlisted", "reserved", "ordered", "suggestion_taps"])
# Impressions apart: most products shown as a suggestion that day were not tapped, and a month's top
# products would read all their rows.
shown_days = _counts("analytics_shown_days", [_store(), sa.Column("sku", sa.String(32), primary_key=True)], ["shown"])
# One store's month of products without reading every store's: the key's day-first range reads them all.
sa.Index("analytics_product_days_by_store", product_days.c.store, product_days.c.day)
store_hours = _counts("analytics_store_hours", [_store(), sa.Column("hour", sa.SmallInteger, primary_key=True)],
                      ["taps", "visits"])
store_days = _counts("analytics_store_days", [_store()], [
    "visits", "signed_in", "consented", "ended", "dwell_s", "handoffs", "shown", "suggestion_taps",
    "reached_tap", "reached_suggestion", "reached_kept", "reached_order", "suggested", "converted",
    "suggested_converted"])
kiosk_days = _counts("analytics_kiosk_days", [_store(), sa.Column("kiosk", sa.String(64), primary_key=True)],
                     ["taps", "visits", "ended", "dwell_s"])
offer_days = _counts("analytics_offer_days", [_store(), sa.Column("offer", sa.String(48), primary_key=True)],
                     ["taps", "saves", "redemptions"])
# Written in this order, always.
COUNT_TABLES = (product_days, shown_days, store_hours, store_days, kiosk_days, offer_days)
ANALYTICS_TABLES = (analytics_stores, visits, visit_products, *COUNT_TABLES)

FUNNEL = ("viewed", "suggested", "kept", "ordered")  # a visit's flags, in the funnel's order
REACHED = ("reached_tap", "reached_suggestion", "reached_kept", "reached_order")
_VISIT_FLAG = {"wishlisted": "kept", "reserved": "kept", "ordered": "ordered"}


def funnel_depth(flags: Mapping[str, bool]) -> int:
    """How many funnel steps a visit with ``flags`` reached (each step needs every one before it)."""
    depth = 0
    while depth < len(FUNNEL) and flags[FUNNEL[depth]]:
        depth += 1
    return depth


class _Tally:
    """Counter deltas of one transaction, written at its end as one upsert per table, keys sorted:
    concurrent ingest workers then lock count rows in one order and never deadlock on them."""

    def __init__(self) -> None:
        self._deltas: dict[sa.Table, dict[tuple[Any, ...], Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        self.turned: dict[str, list[Any]] | None = None  # PostgreSQL: visits' flags, written with the counters

    def add(self, table: sa.Table, key: tuple[Any, ...], **counts: int) -> None:
        self._deltas[table][key].update(counts)

    def flush(self, db: sa.Connection, insert: Any) -> None:
        tables = tuple(table for table in COUNT_TABLES if self._deltas.get(table))
        if db.dialect.name == "postgresql":  # one statement of arrays for every table, its text always the same
            if tables or self.turned:
                db.execute(_array_upserts(tables, self.turned is not None), {
                    **(self.turned or {}), **{f"{table.name}_{name}": values for table in tables
                                              for name, values in self._columns(table).items()}})
            return
        for table in tables:
            keys = [c.name for c in table.primary_key.columns]
            columns = self._columns(table)
            rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
            statement = insert(table)
            db.execute(statement.on_conflict_do_update(index_elements=keys, set_={
                c: table.c[c] + statement.excluded[c] for c in columns if c not in keys}), rows)

    def _columns(self, table: sa.Table) -> dict[str, list[Any]]:
        """The table's deltas as one list per column, in key order."""
        deltas = self._deltas[table]
        ordered = sorted(deltas)
        keys = [c.name for c in table.primary_key.columns]
        columns = {name: [key[i] for key in ordered] for i, name in enumerate(keys)}
        columns.update({c.name: [deltas[key][c.name] for key in ordered] for c in table.columns if c.name not in keys})
        return columns


_ARRAY_TYPES = {sa.String: "varchar[]", sa.Date: "date[]", sa.SmallInteger: "smallint[]", sa.BigInteger: "bigint[]",
                sa.Integer: "integer[]", sa.Boolean: "boolean[]", sa.DateTime: "timestamptz[]"}


@functools.cache
def _array_insert(table: sa.Table) -> sa.TextClause:
    """PostgreSQL: insert rows given as one array per column, those whose key is new; returns their keys."""
    keys = ", ".join(c.name for c in table.primary_key.columns)
    arrays = ", ".join(f"CAST(:{c.name} AS {_ARRAY_TYPES[type(c.type)]})" for c in table.columns)
    return sa.text(f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) SELECT * FROM "
                   f"unnest({arrays}) ON CONFLICT ({keys}) DO NOTHING RETURNING {keys}")


def insert_new(db: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """Insert those of ``rows`` (every column given, keys unique) whose key is not stored yet; their keys.

    On PostgreSQL one statement of arrays whatever the rows' number, so it is never compiled again.
    """
    if not rows:
        return set()
    if db.dialect.name == "postgresql":
        found = db.execute(_array_insert(table), {c.name: [row[c.name] for row in rows] for c in table.columns})
    else:
        found = db.execute(sqlite.insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns),
                           list(rows))
    return {tuple(row) for row in found}


@functools.cache
def _array_upserts(tables: tuple[sa.Table, ...], turn: bool) -> sa.TextClause:
    """PostgreSQL: add counter rows given as one array per column (``unnest``; keys unique in each), to
    every table in ``tables`` in one statement, in their order; with ``turn``, first turn visits' flags."""
    parts = [f"turned AS ({_TURN_ARRAYS})"] if turn else []
    for table in tables:
        keys = [c.name for c in table.primary_key.columns]
        counters = [c.name for c in table.columns if c.name not in keys]
        arrays = ", ".join(f"CAST(:{table.name}_{c.name} AS {_ARRAY_TYPES[type(c.type)]})" for c in table.columns)
        added = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counters)
        parts.append(f"{table.name}_added AS (INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) "
                     f"SELECT * FROM unnest({arrays}) ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added})")
    return sa.text(f"WITH {', '.join(parts)} SELECT 1")


class Analytics:
    """The roll-ups (``ProfileStore.analytics``): fed by ingest, orders and reservations, read by
    ``AnalyticsQueries``."""

    def __init__(self, engine: sa.Engine, enabled: bool = True) -> None:
        self._engine = engine
        self.enabled = enabled  # off: nothing is counted (to measure what the roll-ups cost ingest)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._zones: dict[str, zoneinfo.ZoneInfo] = {}
        self._zones_read = -_ZONES_FRESH_S
        self._lock = threading.Lock()

    def know_stores(self, stores: Sequence[Store]) -> None:
        """Keep the catalog's stores (name, time zone, opening hours) for analytics, in every HQ process."""
        rows: list[dict[str, str | None]] = [
            {"store": s.id, "name": s.name, "time_zone": s.time_zone, "opening_hours": _hours_json(s)}
            for s in sorted(stores, key=lambda s: s.id)]
        if not rows:
            return
        statement = self._insert(analytics_stores)
        with self._engine.begin() as db:
            db.execute(statement.on_conflict_do_update(index_elements=["store"], set_={
                c: statement.excluded[c] for c in ("name", "time_zone", "opening_hours")}), rows)
        with self._lock:
            self._zones.update({s.id: zoneinfo.ZoneInfo(s.time_zone) for s in stores})

    def record_in(self, db: sa.Connection, stored: Sequence[tuple[TapEvent, str]],
                  granted: Mapping[str, str]) -> None:
        """Count events just stored (each with its profile key), in ``db``'s transaction.

        ``granted`` maps the sessions whose shopper granted consent in this batch to their
        profile key: those visits become linked.
        """
        if not self.enabled or not stored:
            return
        tally = _Tally()
        ordered = sorted(stored, key=lambda pair: pair[0].at)
        kiosk = [(e, k) for e, k in ordered if e.store != ONLINE_STORE]
        zones = self._zones_for(db, {e.store for e, _ in ordered})
        local = {str(e.event_id): _local(e.at, zones[e.store]) for e, _ in ordered}
        known: dict[str, Any] = {}
        self._start_visits(db, kiosk, local, tally, known)
        self._count_views(db, [(e, k) for e, k in kiosk if e.kind in _VIEWS], local, tally)
        for event, _ in ordered:
            self._count_event(event, local[str(event.event_id)], tally)
        attributing = any(e.kind is EventKind.WISHLIST_ADD for e, _ in ordered)  # reads the flags again
        self._turn_flags(db, kiosk, granted, tally, known, now=attributing)
        self._link(db, granted)
        for key in sorted({f"shopper:{e.shopper}" for e, _ in ordered if e.kind is EventKind.CONSENT and e.shopper
                           and e.consent is not ConsentStatus.GRANTED}):
            self.forget_in(db, key)  # a consent withdrawn (or refused) ends what links visits to the shopper
        for event, key in ordered:
            if event.kind is EventKind.WISHLIST_ADD and event.sku:
                self._attribute(db, "wishlisted", [event.sku], str(event.session), key, event.at, tally)
        tally.flush(db, self._insert)

    def order_placed_in(self, db: sa.Connection, shopper: str | None, skus: Collection[str], at: datetime) -> None:
        """An order just placed: the products its shopper looked at in linked visits are ordered."""
        if self.enabled and shopper and skus:
            tally = _Tally()
            self._attribute(db, "ordered", sorted(set(skus)), None, f"shopper:{shopper}", at, tally)
            tally.flush(db, self._insert)

    def reserved_in(self, db: sa.Connection, shopper: str | None, sku: str, session: str | None,
                    at: datetime) -> None:
        """A reservation just made (in visit ``session`` when asked at a kiosk)."""
        if not self.enabled:
            return
        tally = _Tally()
        self._attribute(db, "reserved", [sku], session, f"shopper:{shopper}" if shopper else None, at, tally)
        tally.flush(db, self._insert)

    def redeemed_in(self, db: sa.Connection, store: str, offer: str, at: datetime) -> None:
        """A coupon redeemed (``store``: where, or ``online``)."""
        if not self.enabled:
            return
        tally = _Tally()
        day, _ = _local(at, self._zones_for(db, {store})[store])
        tally.add(offer_days, (day, store, offer), redemptions=1)
        tally.flush(db, self._insert)

    def forget_in(self, db: sa.Connection, key: str) -> None:
        """Take profile ``key`` off every visit it was linked to (an erase); the counts stay."""
        db.execute(visits.update().where(visits.c.profile_key == key).values(profile_key=None))

    def zone_of(self, store: str) -> zoneinfo.ZoneInfo:
        """The time zone analytics count ``store``'s days in (UTC for a store HQ's catalog does not list)."""
        with self._engine.connect() as db:
            return self._zones_for(db, {store})[store]

    def _zones_for(self, db: sa.Connection, stores: Collection[str]) -> dict[str, zoneinfo.ZoneInfo]:
        with self._lock:
            stale = time.monotonic() - self._zones_read > _ZONES_FRESH_S
            missing = any(s not in self._zones for s in stores)
        if stale or (missing and time.monotonic() - self._zones_read > 1.0):
            read = {store: zoneinfo.ZoneInfo(zone) for store, zone in
                    db.execute(sa.select(analytics_stores.c.store, analytics_stores.c.time_zone))}
            with self._lock:
                self._zones, self._zones_read = read, time.monotonic()
        with self._lock:
            return {store: self._zones.get(store, _UTC_ZONE) for store in stores}

    def _start_visits(self, db: sa.Connection, kiosk: Sequence[tuple[TapEvent, str]],
                      local: Mapping[str, tuple[date, int]], tally: _Tally, known: dict[str, Any]) -> None:
        """The batch's new visits (counted); on PostgreSQL, every visit of the batch read into ``known``, locked."""
        firsts: dict[str, tuple[TapEvent, str]] = {}
        for event, key in kiosk:
            firsts.setdefault(str(event.session), (event, key))
        if not firsts:
            return
        rows = [{"session": session, "store": e.store, "kiosk": e.kiosk, "day": local[str(e.event_id)][0],
                 "hour": local[str(e.event_id)][1], "started_at": _utc(e.at), "profile_key": _linked_key(e, k),
                 "dwell_s": None, **dict.fromkeys(_FLAGS, False)}
                for session, (e, k) in sorted(firsts.items())]
        if db.dialect.name == "postgresql":
            found = db.execute(_UPSERT_VISITS, {c.name: [row[c.name] for row in rows] for c in visits.columns}).all()
            started = {(row.session,) for row in found if row.inserted}
            known.update({row.session: row for row in found})
        else:
            started = insert_new(db, visits, rows)
        for row in rows:
            if (row["session"],) in started:
                store, day = row["store"], row["day"]
                tally.add(store_days, (day, store), visits=1)
                tally.add(store_hours, (day, store, row["hour"]), visits=1)
                tally.add(kiosk_days, (day, store, row["kiosk"]), visits=1)

    def _count_views(self, db: sa.Connection, views: Sequence[tuple[TapEvent, str]],
                     local: Mapping[str, tuple[date, int]], tally: _Tally) -> None:
        if not views:
            return
        firsts: dict[tuple[str, str], dict[str, Any]] = {}
        for event, _ in views:
            day, hour = local[str(event.event_id)]
            sku = str(event.sku)
            tally.add(product_days, (day, event.store, sku), taps=1,
                      suggestion_taps=int(event.kind is EventKind.SUGGESTION_TAP))
            tally.add(store_hours, (day, event.store, hour), taps=1)
            tally.add(kiosk_days, (day, event.store, event.kiosk), taps=1)
            if event.kind is EventKind.SUGGESTION_TAP:
                tally.add(store_days, (day, event.store), suggestion_taps=1)
            firsts.setdefault((str(event.session), sku), {"session": str(event.session), "sku": sku,
                                                          "store": event.store, "day": day, "wishlisted": False,
                                                          "reserved": False, "ordered": False})
        rows = [row for _, row in sorted(firsts.items())]
        new = insert_new(db, visit_products, rows)
        for row in rows:
            if (row["session"], row["sku"]) in new:
                tally.add(product_days, (row["day"], row["store"], row["sku"]), visits=1)

    def _count_event(self, event: TapEvent, when: tuple[date, int], tally: _Tally) -> None:
        day, store = when[0], event.store
        if event.kind is EventKind.OFFER_TAP and event.offer:
            tally.add(offer_days, (day, store, event.offer), taps=1)
        elif event.kind is EventKind.COUPON_SAVE and event.offer:
            tally.add(offer_days, (day, store, event.offer), saves=1)
        elif store == ONLINE_STORE:
            return
        elif event.kind is EventKind.SUGGESTION_SHOWN and event.shown:
            tally.add(store_days, (day, store), shown=len(event.shown))
            for sku in event.shown:
                tally.add(shown_days, (day, store, sku), shown=1)
        elif event.kind is EventKind.HANDOFF:
            tally.add(store_days, (day, store), handoffs=1)

    def _turn_flags(self, db: sa.Connection, kiosk: Sequence[tuple[TapEvent, str]], granted: Mapping[str, str],
                    tally: _Tally, known: Mapping[str, Any], now: bool) -> None:
        """Turn on what the batch's visits did (a view, a suggestion touched, a sign-in, a consent, an
        end with its dwell) and count each visit's changes once: its rows are locked while read, so a
        concurrent worker reads them after this transaction, as changed."""
        wanted: dict[str, set[str]] = defaultdict(set)
        dwell: dict[str, int] = {}
        for event, _ in kiosk:
            session = str(event.session)
            if event.kind in _VIEWS:
                wanted[session].add("viewed")
            if event.kind is EventKind.SUGGESTION_TAP:
                wanted[session].add("suggested")
            if event.shopper:
                wanted[session].add("signed_in")
            if session in granted:
                wanted[session].add("consented")
            if event.kind is EventKind.VISIT_END and event.dwell_s is not None:
                wanted[session].add("ended")
                dwell.setdefault(session, event.dwell_s)
        if not wanted:
            return
        read = sa.select(visits.c.session, visits.c.store, visits.c.kiosk, visits.c.day, *_FLAG_COLUMNS).where(
            visits.c.session.in_(sorted(wanted))).order_by(visits.c.session)
        changed = []
        rows = [known[session] for session in sorted(wanted) if session in known] if known else db.execute(
            read.with_for_update() if db.dialect.name == "postgresql" else read)
        for row in rows:
            before = {flag: bool(getattr(row, flag)) for flag in _FLAGS}
            turned = {flag for flag in wanted[row.session] if not before[flag]}
            if not turned:
                continue
            after = {**before, **dict.fromkeys(turned, True)}
            _count_turn(tally, row.store, row.day, before, after)
            if "ended" in turned:
                tally.add(store_days, (row.day, row.store), ended=1, dwell_s=dwell[row.session])
                tally.add(kiosk_days, (row.day, row.store, row.kiosk), ended=1, dwell_s=dwell[row.session])
            changed.append({"turned_session": row.session, "turned_dwell": dwell.get(row.session) if "ended" in turned
                            else None, **{f"turned_{flag}": after[flag] for flag in _FLAGS}})
        if changed and db.dialect.name == "postgresql":  # with the counters, unless read again before
            tally.turned = {name: [row[name] for row in changed] for name in changed[0]}
            if now:
                db.execute(sa.text(_TURN_ARRAYS), tally.turned)
                tally.turned = None
        elif changed:
            db.execute(_TURN, changed)

    def _flip(self, db: sa.Connection, flag: str, sessions: Collection[str], tally: _Tally) -> None:
        """Turn ``flag`` on for those of ``sessions`` that do not have it yet, and count what that changes."""
        if not sessions:
            return
        turned = db.execute(visits.update().where(visits.c.session.in_(sorted(sessions)), sa.not_(visits.c[flag]))
                            .values({flag: True})
                            .returning(visits.c.store, visits.c.day, *(visits.c[f] for f in FUNNEL)))
        for row in turned:
            after = {f: bool(getattr(row, f)) for f in FUNNEL}
            _count_turn(tally, row.store, row.day, {**after, flag: False}, after)

    def _link(self, db: sa.Connection, granted: Mapping[str, str]) -> None:
        """Visits whose shopper granted consent become theirs, for what the shopper keeps or buys later."""
        for session, key in sorted(granted.items()):
            db.execute(visits.update().where(visits.c.session == session, visits.c.profile_key.is_(None))
                       .values(profile_key=key))

    def _attribute(self, db: sa.Connection, flag: str, skus: Sequence[str], session: str | None, key: str | None,
                   at: datetime, tally: _Tally) -> None:
        """Mark ``skus`` looked at in visit ``session``, or in linked visits of ``key`` within the
        attribution window before ``at``, as ``flag`` (wishlisted, reserved, ordered)."""
        earning: list[sa.Select[Any]] = []
        if session:
            earning.append(sa.select(sa.literal(session, sa.String(36)).label("session")))
        if key and key.startswith("shopper:"):
            moment = _utc(at)
            earning.append(sa.select(visits.c.session).where(
                visits.c.profile_key == key, visits.c.started_at >= moment - timedelta(days=ATTRIBUTION_DAYS),
                visits.c.started_at <= moment))
        if not earning:
            return
        # The visits as one set (not an OR of conditions), so the database reads only their rows by key.
        sessions = earning[0] if len(earning) == 1 else sa.union(*earning)
        turned = db.execute(visit_products.update()
                            .where(visit_products.c.session.in_(sessions), visit_products.c.sku.in_(skus),
                                   sa.not_(visit_products.c[flag]))
                            .values({flag: True})
                            .returning(visit_products.c.session, visit_products.c.store, visit_products.c.day,
                                       visit_products.c.sku)).all()
        for row in turned:
            tally.add(product_days, (row.day, row.store, row.sku), **{flag: 1})
        self._flip(db, _VISIT_FLAG[flag], {row.session for row in turned}, tally)


def attributable(flag: str) -> sa.ColumnElement[bool]:
    """Whether attributing would mark anything: product ``:attr_sku`` looked at in visit
    ``:attr_session``, or in a linked visit of ``:attr_key`` from ``:attr_since`` to ``:attr_at``,
    not yet marked ``flag`` (``attributable_params`` binds them). Two lookups by key, for a
    statement that then says whether the transaction attributing is worth opening.
    """
    unmarked = (visit_products.c.sku == sa.bindparam("attr_sku"), sa.not_(visit_products.c[flag]))
    in_visit = sa.exists().where(visit_products.c.session == sa.bindparam("attr_session"), *unmarked)
    linked = sa.exists().where(visits.c.profile_key == sa.bindparam("attr_key"),
                               visits.c.started_at >= sa.bindparam("attr_since"),
                               visits.c.started_at <= sa.bindparam("attr_at"),
                               visit_products.c.session == visits.c.session, *unmarked)
    return sa.or_(in_visit, linked)


def attributable_params(shopper: str | None, sku: str, session: str | None, at: datetime,
                        counting: bool = True) -> dict[str, Any]:
    """What ``attributable`` binds for a reservation of ``sku`` (nothing to find unless ``counting``)."""
    moment = _utc(at)
    return {"attr_sku": sku, "attr_session": session if counting else None,
            "attr_key": f"shopper:{shopper}" if counting and shopper else None,
            "attr_since": moment - timedelta(days=ATTRIBUTION_DAYS), "attr_at": moment}


_FLAGS = ("viewed", "suggested", "kept", "ordered", "signed_in", "consented", "ended")
_FLAG_COLUMNS = tuple(visits.c[flag] for flag in _FLAGS)
_TURN = visits.update().where(visits.c.session == sa.bindparam("turned_session")).values(
    dwell_s=sa.func.coalesce(sa.bindparam("turned_dwell", type_=sa.Integer), visits.c.dwell_s),
    **{flag: sa.bindparam(f"turned_{flag}", type_=sa.Boolean) for flag in _FLAGS})

_TURN_ARRAYS = (  # a flag once on stays on, whatever turned it
    "UPDATE analytics_visits SET dwell_s = coalesce(t.dwell, analytics_visits.dwell_s), "
    + ", ".join(f"{flag} = analytics_visits.{flag} OR t.{flag}" for flag in _FLAGS)
    + " FROM unnest(CAST(:turned_session AS varchar[]), CAST(:turned_dwell AS integer[]), "
    + ", ".join(f"CAST(:turned_{flag} AS boolean[])" for flag in _FLAGS)
    + f") AS t(session, dwell, {', '.join(_FLAGS)}) WHERE analytics_visits.session = t.session")
_UPSERT_VISITS = sa.text(  # PostgreSQL: new visits inserted, every visit of the batch returned as it is, locked
    "INSERT INTO analytics_visits (" + ", ".join(c.name for c in visits.columns) + ") SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c.name} AS {_ARRAY_TYPES[type(c.type)]})" for c in visits.columns)
    + ") ON CONFLICT (session) DO UPDATE SET session = excluded.session RETURNING session, store, kiosk, day, "
    + ", ".join(_FLAGS) + ", xmax = 0 AS inserted")


def _count_turn(tally: _Tally, store: str, day: date, before: Mapping[str, bool], after: Mapping[str, bool]) -> None:
    """What one visit's flags turning on changes in its store's day: the funnel, conversion, the rates."""
    deltas: Counter[str] = Counter(REACHED[step] for step in range(funnel_depth(before), funnel_depth(after)))
    converted_before, converted_after = before["kept"] or before["ordered"], after["kept"] or after["ordered"]
    deltas["converted"] += converted_after and not converted_before
    deltas["suggested_converted"] += (after["suggested"] and converted_after
                                      and not (before["suggested"] and converted_before))
    for flag in ("suggested", "signed_in", "consented"):
        deltas[flag] += bool(after.get(flag) and not before.get(flag))
    tally.add(store_days, (day, store), **deltas)


def _hours_json(store: Store) -> str | None:
    if store.opening_hours is None:
        return None
    return json.dumps({day: [{"opens": f"{spell.opens:%H:%M}", "closes": f"{spell.closes:%H:%M}"} for spell in spells]
                       for day, spells in store.opening_hours.items()})


def _linked_key(event: TapEvent, key: str) -> str | None:
    """The profile key a visit may keep: only one the shopper agreed to link the visit to."""
    return key if key.startswith("shopper:") and event.kind in _LINKED_KINDS else None


def _local(at: datetime, zone: zoneinfo.ZoneInfo) -> tuple[date, int]:
    moment = _utc(at).astimezone(zone)
    return moment.date(), moment.hour


def _utc(moment: datetime) -> datetime:
    """Every moment in UTC: SQLite keeps datetimes without their offset."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

