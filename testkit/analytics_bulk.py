"""A large synthetic history for HQ's analytics, and its bulk load into PostgreSQL through the
roll-up code HQ's ingest uses.

``store_history`` makes one store's visits over a span of days (views, suggestions shown
and touched, consents, wishlist adds, offer sign taps, hand-offs, ends), the reservations
asked at its kiosks and the web orders of its shoppers. Each shopper shops at one store
only, so one store's roll-ups never depend on another's.

``BulkLoader`` counts a store's history with ``Analytics`` itself (``record_in`` in batches
as ingest calls it, then ``reserved_in`` and ``order_placed_in`` as reservations and orders
call it) on a scratch in-memory SQLite database, then copies the raw events and every roll-up
row it computed into PostgreSQL with COPY: what the roll-up code would have written there,
without a round trip per statement. ``ingest`` gives the same history to a ``ProfileStore``
the way HQ's ingest does, for checking that both end in the same roll-ups.
"""

from __future__ import annotations

import random
import uuid
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from hq import ProfileStore
from hq._analytics import ANALYTICS_TABLES, COUNT_TABLES, Analytics, analytics_stores, visit_products, visits
from hq._orders import Order, OrderLine
from hq._store import _event_row, profile_key, shopper_key
from hq._uptime import kiosk_spans
from kiosk_protocol import ONLINE_STORE, ConsentStatus, EventKind, ReservationKind, Store, TapEvent

ZONES = ("Europe/Madrid", "Europe/Lisbon", "America/Mexico_City", "America/Bogota", "Europe/London",
         "America/New_York")
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SIZE = "U"
EVENTS_PER_VISIT = 8.3  # about what ``store_history`` makes on average, to size a store's visits
ROLLUP_TABLES = (visits, visit_products, *COUNT_TABLES)  # what the loader copies from the scratch database


def stores(count: int) -> list[Store]:
    """``count`` stores over six time zones; most open 10:00–21:00 (Sunday 11:00–19:00), every tenth always."""
    made = []
    for n in range(count):
        hours = None if n % 10 == 9 else {
            day: [{"opens": "11:00", "closes": "19:00"}] if day == "sun" else [{"opens": "10:00", "closes": "21:00"}]
            for day in WEEK}
        made.append(Store.model_validate({"id": f"store-{n:03d}", "name": f"Store {n:03d}",
                                          "time_zone": ZONES[n % len(ZONES)], "opening_hours": hours}))
    return made


def kiosks_of(store: Store, per_store: int) -> list[str]:
    """The kiosks of ``store``."""
    return [f"kiosk-{n:02d}" for n in range(1, per_store + 1)]


def sku(n: int) -> str:
    """The SKU of product number ``n``."""
    return f"P{n:05d}"


@dataclass
class StoreHistory:
    """What happened at one store, each list in time order."""

    store: Store
    events: list[TapEvent] = field(default_factory=list)
    reservations: list[tuple[str, str, str, datetime]] = field(default_factory=list)  # kiosk, session, sku, at
    orders: list[Order] = field(default_factory=list)  # its shoppers', from the web shop


_TEMPLATE = TapEvent.model_validate({"v": 3, "event_id": uuid.UUID(int=0), "kind": EventKind.VISIT_START,
                                     "store": "store", "kiosk": "kiosk", "seq": 1, "session": uuid.UUID(int=0),
                                     "at": datetime(2026, 1, 1, tzinfo=UTC)})


def _event(kind: EventKind, store: str, kiosk: str, seq: int, session: uuid.UUID, at: datetime,
           shopper: str | None = None, **details: Any) -> TapEvent:
    # A validated template copied without validation: millions are made, each as ``new_event`` would make it
    # (the tests validate them).
    return _TEMPLATE.model_copy(update={"event_id": uuid.UUID(int=random.getrandbits(128), version=4), "kind": kind,
                                        "store": store, "kiosk": kiosk, "seq": seq, "session": session,
                                        "shopper": shopper, "at": at, **details})


def _hlc(at: datetime, n: int) -> str:
    return f"{int(at.timestamp() * 1000):015d}-{n % 1_000_000:06d}-kiosk"


def _open_moment(rng: random.Random, store: Store, day: date, zone: zoneinfo.ZoneInfo) -> datetime | None:
    spells = store.spells_on(day)
    if not spells:
        return None
    opens, closes = spells[0][0], min(spells[-1][1], time(23, 59))
    first = opens.hour * 3600 + opens.minute * 60
    last = closes.hour * 3600 + closes.minute * 60 - 1800  # a visit starts half an hour before closing at latest
    moment = datetime.combine(day, time(0, 0), zone) + timedelta(seconds=rng.randrange(first, max(first + 1, last)))
    return moment.astimezone(UTC)


def store_history(store: Store, events: int, first_day: date, days: int, kiosks: Sequence[str], products: int,
                  seed: int, shoppers: int = 200) -> StoreHistory:
    """About ``events`` events of ``store`` over ``days`` local days from ``first_day``, reproducible by ``seed``."""
    rng = random.Random(seed)
    random.seed(seed)  # the event ids
    zone = zoneinfo.ZoneInfo(store.time_zone)
    history = StoreHistory(store)
    starts = []
    for _ in range(max(1, round(events / EVENTS_PER_VISIT))):
        start = None
        while start is None:
            start = _open_moment(rng, store, first_day + timedelta(days=rng.randrange(days)), zone)
        starts.append(start)
    starts.sort()
    seqs = dict.fromkeys(kiosks, 0)
    made: list[TapEvent] = []
    for number, start in enumerate(starts):
        kiosk = rng.choice(kiosks)
        session = uuid.UUID(int=rng.getrandbits(128), version=4)
        shopper = f"{store.id}-s{rng.randrange(shoppers):04d}" if rng.random() < 0.3 else None
        consent_at = rng.randrange(0, 3) if shopper and rng.random() < 0.5 else None
        at, linked = start, False
        viewed: list[str] = []
        shown: tuple[str, ...] = ()
        visit: list[TapEvent] = []

        def add(kind: EventKind, named: str | None = None, **details: Any) -> None:
            nonlocal at
            seqs[kiosk] += 1  # noqa: B023
            visit.append(_event(kind, store.id, kiosk, seqs[kiosk], session, at, named, **details))  # noqa: B023
            at += timedelta(seconds=rng.randrange(4, 120))

        add(EventKind.VISIT_START)
        for step in range(1 + min(int(rng.expovariate(0.35)), 11)):
            if step == consent_at and shopper:
                add(EventKind.CONSENT, shopper, consent=ConsentStatus.GRANTED, hlc=_hlc(at, number))
                linked = True
            named = shopper if linked else None
            if shown and rng.random() < 0.3:
                product = rng.choice(shown)
                add(EventKind.SUGGESTION_TAP, named, sku=product, beside=viewed[-1])
            else:
                product = sku(int(products * rng.random() ** 3))  # a few products are tapped most
                add(EventKind.PRODUCT_VIEW, named, sku=product)
            viewed.append(product)
            if rng.random() < 0.7:
                shown = tuple(dict.fromkeys(sku(int(products * rng.random() ** 2)) for _ in range(4)))
                add(EventKind.SUGGESTION_SHOWN, named, shown=shown, beside=product)
            if rng.random() < 0.04:
                add(EventKind.OFFER_TAP, named, offer=f"OFFER-{rng.randrange(40):02d}")
        if shopper and rng.random() < 0.4:
            add(EventKind.WISHLIST_ADD, shopper, sku=rng.choice(viewed), hlc=_hlc(at, number))
        if rng.random() < 0.05:
            history.reservations.append((kiosk, str(session), rng.choice(viewed), at))
        if rng.random() < 0.1:
            add(EventKind.HANDOFF, shopper if linked else None)
        add(EventKind.VISIT_END, shopper if linked else None, dwell_s=int((at - start).total_seconds()))
        made += visit
        if linked and shopper and rng.random() < 0.25:  # the web shop, up to ten days later
            ordered = {rng.choice(viewed) if rng.random() < 0.6 else sku(rng.randrange(products))
                       for _ in range(rng.randrange(1, 3))}
            history.orders.append(Order(f"web-{session.hex}", shopper, "web", ONLINE_STORE,
                                        start + timedelta(hours=rng.randrange(1, 240)),
                                        tuple(OrderLine(s, SIZE, 1, Decimal("20.00")) for s in sorted(ordered))))
    history.events = sorted(made, key=lambda e: e.at)
    history.reservations.sort(key=lambda r: r[3])
    history.orders.sort(key=lambda o: o.at)
    return history


def uptime_spans(store: Store, kiosks: Sequence[str], first_day: date, days: int, seed: int,
                 now: datetime) -> list[dict[str, Any]]:
    """Each kiosk's online spans as ``UptimeLog`` keeps them: up from the first day, down now and then."""
    rng = random.Random(seed)
    rows = []
    begin = datetime.combine(first_day, time(0, 0), zoneinfo.ZoneInfo(store.time_zone)).astimezone(UTC)
    end = min(now, begin + timedelta(days=days))
    for kiosk in kiosks:
        up = begin + timedelta(minutes=rng.randrange(0, 60))
        while up < end:
            down = min(end, up + timedelta(hours=rng.expovariate(1 / 40)))
            rows.append({"store": store.id, "kiosk": kiosk, "started_at": up, "last_seen": down,
                         "ended": down < end})
            up = down + timedelta(minutes=rng.randrange(2, 120))
    return rows


def _batches(items: Sequence[TapEvent], size: int) -> Iterator[Sequence[TapEvent]]:
    for first in range(0, len(items), size):
        yield items[first:first + size]


class BulkLoader:
    """Loads histories into HQ's database at ``url`` (its tables made by ``ProfileStore``): the raw
    events and the roll-ups ``Analytics`` computes for them, by COPY."""

    def __init__(self, url: str, batch: int = 2000) -> None:
        self._engine = sa.create_engine(url)
        self._batch = batch

    def know_stores(self, known: Sequence[Store]) -> None:
        """The catalog's stores, as HQ keeps them for analytics."""
        Analytics(self._engine).know_stores(known)

    def load(self, history: StoreHistory) -> int:
        """Count one store's history and copy it in; returns how many events went in."""
        return self.write(loaded_rows(history, self._batch))

    def write(self, rows: dict[str, list[dict[str, Any]]]) -> int:
        """Copy in what ``loaded_rows`` made of a history; returns how many events went in."""
        for name, table_rows in rows.items():
            self.copy(name, table_rows)
        return len(rows["events"])

    def copy(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """COPY ``rows`` (all with the same columns) into ``table``."""
        if not rows:
            return
        columns = list(rows[0])
        raw = self._engine.raw_connection()
        try:
            psycopg: Any = raw.driver_connection
            with psycopg.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
            psycopg.commit()
        finally:
            raw.close()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()


def loaded_rows(history: StoreHistory, batch: int = 2000) -> dict[str, list[dict[str, Any]]]:
    """What HQ's tables hold of ``history`` once ingested, by table name: its events, then its roll-ups."""
    rows, keys = rollups(history, batch)
    now = datetime.now(UTC)
    return {"events": [_event_row(event, key, now) for event, key in zip(history.events, keys, strict=True)], **rows}


def rollups(history: StoreHistory, batch: int = 2000) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The roll-up rows ``Analytics`` writes for ``history`` (by table name), and each event's profile key
    as HQ ends up keeping it."""
    scratch = sa.create_engine("sqlite://")
    try:
        with scratch.begin() as db:
            for table in ANALYTICS_TABLES:
                table.create(db)
        analytics = Analytics(scratch)
        analytics.know_stores([history.store])
        links: dict[str, str] = {}
        with scratch.begin() as db:
            for events in _batches(history.events, batch):
                # As ``ProfileStore.record_many``: consent in the batch links its session, and an anonymous
                # event of a linked session is kept under the shopper's key.
                granted = {str(e.session): shopper_key(e.shopper) for e in events
                           if e.kind is EventKind.CONSENT and e.consent is ConsentStatus.GRANTED and e.shopper}
                links.update(granted)
                keyed = [(e, profile_key(e) if e.shopper else links.get(str(e.session), profile_key(e)))
                         for e in events]
                analytics.record_in(db, keyed, granted)
            for _, session, product, at in history.reservations:
                analytics.reserved_in(db, None, product, session, at)
            for order in history.orders:
                analytics.order_placed_in(db, order.shopper, [line.sku for line in order.lines], order.at)
            rows = {table.name: [_utc_row(row._mapping) for row in db.execute(sa.select(table))]
                    for table in ROLLUP_TABLES}
    finally:
        scratch.dispose()
    # At consent HQ moves the session's earlier anonymous events to the shopper's profile.
    keys = [profile_key(e) if e.shopper else links.get(str(e.session), profile_key(e)) for e in history.events]
    return rows, keys


def _utc_row(row: Any) -> dict[str, Any]:
    """A scratch row, its moments in UTC again (SQLite keeps them without their offset)."""
    return {name: value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
            for name, value in row.items()}


def ingest(store: ProfileStore, histories: Iterable[StoreHistory], batch: int = 100) -> None:
    """Give HQ the histories as its ingest, reservations and orders would: every store's events in time
    order through ``record_many`` in batches, then the reservations, then the orders."""
    histories = list(histories)
    for known in histories:
        store.stock.apply_feed(known.store.id, 1, {product: {SIZE: 10_000} for _, _, product, _ in
                                                   known.reservations}, "hq")
    events = sorted((e for h in histories for e in h.events), key=lambda e: e.at)
    for first in range(0, len(events), batch):
        store.record_many(events[first:first + batch])
    for known in histories:
        for kiosk, session, product, _ in known.reservations:
            store.reservations.hold(known.store.id, product, SIZE, None, ReservationKind.FITTING_ROOM, None,
                                    f"kiosk:{kiosk}", kiosk=kiosk, session=session)
    for order in sorted((o for h in histories for o in h.orders), key=lambda o: o.at):
        store.orders.place(order)


def analytics_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every roll-up row in the database at ``url``, sorted, by table name (the stores and spans too)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return {table.name: sorted(tuple(row) for row in db.execute(sa.select(table)))
                    for table in (*ROLLUP_TABLES, analytics_stores, kiosk_spans)}
    finally:
        engine.dispose()
