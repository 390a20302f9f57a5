"""HQ's analytics roll-ups, kept in the same transaction as what they count, so no page view
ever scans the events.

- **Per store and local day.** Counts are kept per (store, local day[, hour]) in the store's
  own time zone (``analytics_stores``, from HQ's catalog: ``Analytics.know_stores``): per
  product (``analytics_product_days``), per hour of the day (``analytics_store_hours``), per
  kiosk (``analytics_kiosk_days``), per offer (``analytics_offer_days``) and per store
  (``analytics_store_days``: visits, dwell, sign-ins, consents, the funnel, suggestions).
  A month's answer reads at most days × stores × products rows, by index. A store's time
  zone changed later leaves the days already counted where they were.
- **Visits.** A visit is a kiosk session (``analytics_visits``, one row each): it starts at
  the first of its events HQ stores (a version 3 kiosk's ``visit_start``). Its flags say how
  far it got: a product looked at, a suggestion touched, something kept (wishlist or
  reservation), an order; each flag turns once, by one conditional UPDATE, so concurrent
  ingest workers count it once.
- **Attribution.** A product looked at in a visit (``analytics_visit_products``) is
  wishlisted, reserved or ordered when that happens in the same visit, or by the visit's
  shopper (a visit the shopper agreed to link) within ``ATTRIBUTION_DAYS`` of its start, in
  any channel. Orders (``_orders``) and reservations (``_reservations``) call in here from
  their own transactions.
- **The funnel is nested:** a visit reaches a step when it did that step and every step
  before it (a product looked at → a suggestion touched → kept → ordered).
- **Nobody in it.** The counts name no shopper. Only the attribution rows of a linked visit
  hold its profile key, until an erase (``forget_in``) takes it off: the counts stay, the
  link to the person goes.
"""

from __future__ import annotations

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
from kiosk_protocol import ONLINE_STORE, VIEW_KINDS, EventKind, Store, TapEvent

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
    sa.Column("profile_key", _KEY, nullable=True, index=True),  # only a linked visit's, until an erase
    *(sa.Column(flag, sa.Boolean, nullable=False, default=False) for flag in (
        "viewed", "suggested", "kept", "ordered", "signed_in", "consented", "ended")),
    sa.Column("dwell_s", sa.Integer, nullable=True),
)
visit_products = sa.Table(
    "analytics_visit_products", metadata,
    sa.Column("session", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(32), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),  # the visit's start, for attribution
    sa.Column("profile_key", _KEY, nullable=True),
    *(sa.Column(flag, sa.Boolean, nullable=False, default=False) for flag in ("wishlisted", "reserved", "ordered")),
)
# A shopper's products looked at, for what they keep or buy later (only linked visits have a key).
sa.Index("analytics_visit_products_shopper", visit_products.c.profile_key, visit_products.c.sku,
         visit_products.c.started_at)


def _counts(name: str, keys: Sequence[sa.Column[Any]], counters: Sequence[str]) -> sa.Table:
    table = sa.Table(name, metadata, *keys, *(sa.Column(c, sa.BigInteger, nullable=False, default=0)
                                               for c in counters))
    sa.Index(f"{name}_by_day", table.c.day)  # every store's days, for the fleet-wide answers
    return table


def _store() -> sa.Column[Any]:
    return sa.Column("store", sa.String(64), primary_key=True)


def _day() -> sa.Column[Any]:
    return sa.Column("day", sa.Date, primary_key=True)


product_days = _counts("analytics_product_days", [_store(), _day(), sa.Column("sku", sa.String(32), primary_key=True)],
                       ["taps", "visits", "wishlisted", "reserved", "ordered", "shown", "suggestion_taps"])
store_hours = _counts("analytics_store_hours", [_store(), _day(), sa.Column("hour", sa.SmallInteger, primary_key=True)],
                      ["taps", "visits"])
store_days = _counts("analytics_store_days", [_store(), _day()], [
    "visits", "signed_in", "consented", "ended", "dwell_s", "handoffs", "shown", "suggestion_taps",
    "reached_tap", "reached_suggestion", "reached_kept", "reached_order", "suggested", "converted",
    "suggested_converted"])
kiosk_days = _counts("analytics_kiosk_days", [_store(), sa.Column("kiosk", sa.String(64), primary_key=True), _day()],
                     ["taps", "visits", "ended", "dwell_s"])
offer_days = _counts("analytics_offer_days", [_store(), _day(), sa.Column("offer", sa.String(48), primary_key=True)],
                     ["taps", "saves", "redemptions"])
COUNT_TABLES = (product_days, store_hours, store_days, kiosk_days, offer_days)  # written in this order, always
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

    def add(self, table: sa.Table, key: tuple[Any, ...], **counts: int) -> None:
        self._deltas[table][key].update(counts)

    def flush(self, db: sa.Connection, insert: Any) -> None:
        for table in COUNT_TABLES:
            deltas = self._deltas.get(table)
            if not deltas:
                continue
            keys = [c.name for c in table.primary_key.columns]
            counters = [c.name for c in table.columns if c.name not in keys]
            rows = [{**dict(zip(keys, key, strict=True)), **{c: deltas[key][c] for c in counters}}
                    for key in sorted(deltas)]
            statement = insert(table)
            db.execute(statement.on_conflict_do_update(
                index_elements=keys, set_={c: table.c[c] + statement.excluded[c] for c in counters}), rows)


class Analytics:
    """The roll-ups (``ProfileStore.analytics``): fed by ingest, orders and reservations, read by
    ``AnalyticsQueries``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
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
        tally = _Tally()
        ordered = sorted(stored, key=lambda pair: pair[0].at)
        kiosk = [(e, k) for e, k in ordered if e.store != ONLINE_STORE]
        zones = self._zones_for(db, {e.store for e, _ in ordered})
        local = {str(e.event_id): _local(e.at, zones[e.store]) for e, _ in ordered}
        self._start_visits(db, kiosk, local, tally)
        views = [(e, k) for e, k in kiosk if e.kind in _VIEWS]
        self._count_views(db, views, local, tally)
        for event, _ in ordered:
            self._count_event(db, event, local[str(event.event_id)], tally)
        self._flip(db, "signed_in", {str(e.session) for e, _ in kiosk if e.shopper}, tally)
        kiosk_granted = {session: key for session, key in granted.items()
                         if any(str(e.session) == session for e, _ in kiosk)}
        self._flip(db, "consented", set(kiosk_granted), tally)
        self._link(db, granted)
        for event, key in ordered:
            if event.kind is EventKind.WISHLIST_ADD and event.sku:
                self._attribute(db, "wishlisted", [event.sku], str(event.session), key, event.at, tally)
        tally.flush(db, self._insert)

    def order_placed_in(self, db: sa.Connection, shopper: str | None, skus: Collection[str], at: datetime) -> None:
        """An order just placed: the products its shopper looked at in linked visits are ordered."""
        if shopper and skus:
            tally = _Tally()
            self._attribute(db, "ordered", sorted(set(skus)), None, f"shopper:{shopper}", at, tally)
            tally.flush(db, self._insert)

    def reserved_in(self, db: sa.Connection, shopper: str | None, sku: str, session: str | None,
                    at: datetime) -> None:
        """A reservation just made (in visit ``session`` when asked at a kiosk)."""
        tally = _Tally()
        self._attribute(db, "reserved", [sku], session, f"shopper:{shopper}" if shopper else None, at, tally)
        tally.flush(db, self._insert)

    def redeemed_in(self, db: sa.Connection, store: str, offer: str, at: datetime) -> None:
        """A coupon redeemed (``store``: where, or ``online``)."""
        tally = _Tally()
        day, _ = _local(at, self._zones_for(db, {store})[store])
        tally.add(offer_days, (store, day, offer), redemptions=1)
        tally.flush(db, self._insert)

    def forget_in(self, db: sa.Connection, key: str) -> None:
        """Take profile ``key`` off every visit it was linked to (an erase); the counts stay."""
        for table in (visits, visit_products):
            db.execute(table.update().where(table.c.profile_key == key).values(profile_key=None))

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
                      local: Mapping[str, tuple[date, int]], tally: _Tally) -> None:
        firsts: dict[str, tuple[TapEvent, str]] = {}
        for event, key in kiosk:
            firsts.setdefault(str(event.session), (event, key))
        if not firsts:
            return
        rows = [{"session": session, "store": e.store, "kiosk": e.kiosk, "day": local[str(e.event_id)][0],
                 "hour": local[str(e.event_id)][1], "started_at": _utc(e.at), "profile_key": _linked_key(e, k),
                 **dict.fromkeys(("viewed", "suggested", "kept", "ordered", "signed_in", "consented", "ended"),
                                 False)}
                for session, (e, k) in sorted(firsts.items())]
        started = set(db.execute(self._insert(visits).on_conflict_do_nothing(index_elements=["session"])
                                 .returning(visits.c.session), rows).scalars())
        for row in rows:
            if row["session"] in started:
                store, day = row["store"], row["day"]
                tally.add(store_days, (store, day), visits=1)
                tally.add(store_hours, (store, day, row["hour"]), visits=1)
                tally.add(kiosk_days, (store, row["kiosk"], day), visits=1)

    def _count_views(self, db: sa.Connection, views: Sequence[tuple[TapEvent, str]],
                     local: Mapping[str, tuple[date, int]], tally: _Tally) -> None:
        if not views:
            return
        firsts: dict[tuple[str, str], dict[str, Any]] = {}
        for event, key in views:
            day, hour = local[str(event.event_id)]
            sku = str(event.sku)
            tally.add(product_days, (event.store, day, sku), taps=1,
                      suggestion_taps=int(event.kind is EventKind.SUGGESTION_TAP))
            tally.add(store_hours, (event.store, day, hour), taps=1)
            tally.add(kiosk_days, (event.store, event.kiosk, day), taps=1)
            if event.kind is EventKind.SUGGESTION_TAP:
                tally.add(store_days, (event.store, day), suggestion_taps=1)
            firsts.setdefault((str(event.session), sku), {
                "session": str(event.session), "sku": sku, "store": event.store, "day": day,
                "started_at": _utc(event.at), "profile_key": _linked_key(event, key),
                "wishlisted": False, "reserved": False, "ordered": False})
        sessions = sorted({session for session, _ in firsts})
        started = dict(db.execute(sa.select(visits.c.session, visits.c.started_at)
                                  .where(visits.c.session.in_(sessions))).all())
        rows = [{**row, "started_at": _utc(started.get(row["session"], row["started_at"]))}
                for _, row in sorted(firsts.items())]
        new = {(row.session, row.sku) for row in db.execute(
            self._insert(visit_products).on_conflict_do_nothing(index_elements=["session", "sku"])
            .returning(visit_products.c.session, visit_products.c.sku), rows)}
        for row in rows:
            if (row["session"], row["sku"]) in new:
                tally.add(product_days, (row["store"], row["day"], row["sku"]), visits=1)
        self._flip(db, "viewed", set(sessions), tally)
        self._flip(db, "suggested", {str(e.session) for e, _ in views if e.kind is EventKind.SUGGESTION_TAP}, tally)

    def _count_event(self, db: sa.Connection, event: TapEvent, when: tuple[date, int], tally: _Tally) -> None:
        day, store = when[0], event.store
        if event.kind is EventKind.OFFER_TAP and event.offer:
            tally.add(offer_days, (store, day, event.offer), taps=1)
        elif event.kind is EventKind.COUPON_SAVE and event.offer:
            tally.add(offer_days, (store, day, event.offer), saves=1)
        elif store == ONLINE_STORE:
            return
        elif event.kind is EventKind.SUGGESTION_SHOWN and event.shown:
            tally.add(store_days, (store, day), shown=len(event.shown))
            for sku in event.shown:
                tally.add(product_days, (store, day, sku), shown=1)
        elif event.kind is EventKind.HANDOFF:
            tally.add(store_days, (store, day), handoffs=1)
        elif event.kind is EventKind.VISIT_END and event.dwell_s is not None:
            ended = db.execute(visits.update().where(visits.c.session == str(event.session), sa.not_(visits.c.ended))
                               .values(ended=True, dwell_s=event.dwell_s)
                               .returning(visits.c.store, visits.c.kiosk, visits.c.day)).first()
            if ended is not None:  # counted on the day the visit started, like the rest of it
                tally.add(store_days, (ended.store, ended.day), ended=1, dwell_s=event.dwell_s)
                tally.add(kiosk_days, (ended.store, ended.kiosk, ended.day), ended=1, dwell_s=event.dwell_s)

    def _flip(self, db: sa.Connection, flag: str, sessions: Collection[str], tally: _Tally) -> None:
        """Turn ``flag`` on for those of ``sessions`` that do not have it yet, and count what that changes."""
        if not sessions:
            return
        turned = db.execute(visits.update().where(visits.c.session.in_(sorted(sessions)), sa.not_(visits.c[flag]))
                            .values({flag: True})
                            .returning(visits.c.store, visits.c.day, *(visits.c[f] for f in FUNNEL)))
        for row in turned:
            now = {f: bool(getattr(row, f)) for f in FUNNEL}
            before = {**now, flag: False} if flag in FUNNEL else now
            deltas: Counter[str] = Counter(REACHED[step] for step in range(funnel_depth(before), funnel_depth(now)))
            converted_before, converted_now = before["kept"] or before["ordered"], now["kept"] or now["ordered"]
            deltas["converted"] += converted_now and not converted_before
            deltas["suggested_converted"] += (now["suggested"] and converted_now
                                              and not (before["suggested"] and converted_before))
            if flag in ("suggested", "signed_in", "consented"):
                deltas[flag] += 1
            tally.add(store_days, (row.store, row.day), **deltas)

    def _link(self, db: sa.Connection, granted: Mapping[str, str]) -> None:
        """Visits whose shopper granted consent become theirs, for what the shopper keeps or buys later."""
        for session, key in sorted(granted.items()):
            for table in (visits, visit_products):
                db.execute(table.update().where(table.c.session == session, table.c.profile_key.is_(None))
                           .values(profile_key=key))

    def _attribute(self, db: sa.Connection, flag: str, skus: Sequence[str], session: str | None, key: str | None,
                   at: datetime, tally: _Tally) -> None:
        """Mark ``skus`` looked at in visit ``session``, or in linked visits of ``key`` within the
        attribution window before ``at``, as ``flag`` (wishlisted, reserved, ordered)."""
        where = []
        if session:
            where.append(visit_products.c.session == session)
        if key and key.startswith("shopper:"):
            moment = _utc(at)
            where.append(sa.and_(visit_products.c.profile_key == key,
                                 visit_products.c.started_at >= moment - timedelta(days=ATTRIBUTION_DAYS),
                                 visit_products.c.started_at <= moment))
        if not where:
            return
        turned = db.execute(visit_products.update()
                            .where(visit_products.c.sku.in_(skus), sa.or_(*where), sa.not_(visit_products.c[flag]))
                            .values({flag: True})
                            .returning(visit_products.c.session, visit_products.c.store, visit_products.c.day,
                                       visit_products.c.sku)).all()
        for row in turned:
            tally.add(product_days, (row.store, row.day, row.sku), **{flag: 1})
        self._flip(db, _VISIT_FLAG[flag], {row.session for row in turned}, tally)


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

