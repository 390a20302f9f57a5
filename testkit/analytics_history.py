"""A small known history for HQ's analytics, and its figures counted independently.

``known_history`` makes visits at two stores in two time zones over the end of a month
(views, suggestions shown and touched, consents, wishlist adds, hand-offs, ends; some from
a version 2 kiosk that sends no visit events), wishlist adds from the web shop, kiosk
reservations and orders. ``load`` puts it into a ``ProfileStore`` through the paths HQ
uses (``record_many``, ``reservations.hold``, ``orders.place``); ``expected`` counts each
analytics answer from the raw history with nothing of HQ's analytics code: what the
answers must be, exactly.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hq import ProfileStore
from hq._orders import Order, OrderLine
from hq._reservations import Reservation
from kiosk_protocol import (
    ONLINE_STORE,
    Catalog,
    ConsentStatus,
    EventKind,
    ReservationKind,
    Store,
    TapEvent,
    dump_catalog,
    new_event,
)

STORES = (
    Store.model_validate({"id": "madrid-centro", "name": "Madrid Centro", "time_zone": "Europe/Madrid",
                          "opening_hours": {day: [{"opens": "10:00", "closes": "14:00"},
                                                  {"opens": "17:00", "closes": "21:00"}]
                                            for day in ("mon", "tue", "wed", "thu", "fri", "sat")}}),
    Store.model_validate({"id": "cdmx-polanco", "name": "CDMX Polanco", "time_zone": "America/Mexico_City"}),
)
KIOSKS = {"madrid-centro": ("kiosk-01", "kiosk-02"), "cdmx-polanco": ("kiosk-01",)}
SKUS = ("BOOT-1", "BAG-2", "HAT-3", "COAT-4", "SCARF-5", "BELT-6")
NAMES = {"BOOT-1": "Botín", "BAG-2": "Bolso", "HAT-3": "Sombrero", "COAT-4": "Abrigo", "SCARF-5": "Bufanda",
         "BELT-6": "Cinturón"}
SHOPPERS = tuple(f"shopper-{n:02d}" for n in range(1, 7))
START = datetime(2026, 2, 26, 18, 0, tzinfo=UTC)  # visits over four days, across local midnights and a month's end
WINDOW = timedelta(days=7)  # what a linked visit's shopper keeps or buys this long after, the visit earned
SIZE = "U"


@dataclass
class Visit:
    """One kiosk visit as the history makes it."""

    session: str
    store: str
    kiosk: str
    events: list[TapEvent] = field(default_factory=list)
    shopper: str | None = None  # signed in
    linked: bool = False  # the shopper granted consent in it


@dataclass
class History:
    """Everything that happened, in the order HQ is given it."""

    visits: list[Visit]
    later_events: list[TapEvent]  # the web shop's wishlist adds, after every visit
    reservations: list[tuple[str, str, str, str, str | None]]  # store, kiosk, session, sku, shopper
    orders: list[Order]
    made: list[Reservation] = field(default_factory=list)  # as HQ made them (``load``)

    @property
    def events(self) -> list[TapEvent]:
        return [e for visit in self.visits for e in visit.events] + self.later_events


def _hlc(at: datetime, n: int, node: str) -> str:
    return f"{int(at.timestamp() * 1000):015d}-{n % 1_000_000:06d}-{node}"


def known_history(seed: int = 18, visits: int = 70) -> History:
    """The history: ``visits`` visits in start order, then the web's adds, reservations and orders."""
    rng = random.Random(seed)
    seqs: dict[tuple[str, str], int] = defaultdict(int)
    starts = sorted(START + timedelta(seconds=rng.randrange(0, 4 * 24 * 3600)) for _ in range(visits))
    made: list[Visit] = []
    reservations: list[tuple[str, str, str, str, str | None]] = []
    for number, start in enumerate(starts):
        store = rng.choice([s.id for s in STORES])
        kiosk = rng.choice(KIOSKS[store])
        visit = Visit(str(uuid.uuid4()), store, kiosk)
        old_kiosk = kiosk == "kiosk-02"  # version 2: no visit events, no suggestions shown
        version = 2 if old_kiosk else 3
        visit.shopper = rng.choice(SHOPPERS) if rng.random() < 0.55 else None
        consent_at = rng.randrange(0, 4) if visit.shopper and rng.random() < 0.65 else None
        at = start

        def add(kind: EventKind, shopper: str | None = None, **details: Any) -> None:
            nonlocal at
            seqs[(store, kiosk)] += 1  # noqa: B023
            event = new_event(kind=kind, store=store, kiosk=kiosk, seq=seqs[(store, kiosk)],  # noqa: B023
                              session=uuid.UUID(visit.session), shopper=shopper, v=version, **details)  # noqa: B023
            visit.events.append(event.model_copy(update={"at": at}))  # noqa: B023
            at += timedelta(seconds=rng.randrange(5, 400))

        if not old_kiosk:
            add(EventKind.VISIT_START)
        viewed: list[str] = []
        views = 0 if rng.random() < 0.1 else rng.randrange(1, 6)
        for step in range(views):
            if consent_at == step and visit.shopper:
                add(EventKind.CONSENT, visit.shopper, consent=ConsentStatus.GRANTED, hlc=_hlc(at, number, kiosk))
                visit.linked = True
            named = visit.shopper if visit.linked else None
            sku = rng.choice(SKUS)
            if viewed and rng.random() < 0.35:
                add(EventKind.SUGGESTION_TAP, named, sku=sku, beside=viewed[-1])
            else:
                add(EventKind.PRODUCT_VIEW, named, sku=sku)
            viewed.append(sku)
            if not old_kiosk and rng.random() < 0.7:
                add(EventKind.SUGGESTION_SHOWN, named, shown=tuple(rng.sample(SKUS, 3)), beside=sku)
        if visit.shopper and viewed and rng.random() < 0.45:
            wished = rng.choice(viewed) if rng.random() < 0.8 else rng.choice(SKUS)
            add(EventKind.WISHLIST_ADD, visit.shopper, sku=wished, hlc=_hlc(at, number, kiosk))
        if viewed and rng.random() < 0.25:
            reservations.append((store, kiosk, visit.session, rng.choice(viewed), visit.shopper))
        if not old_kiosk:
            if rng.random() < 0.2:
                add(EventKind.HANDOFF, visit.shopper if visit.linked else None)
            dwell = int((at - start).total_seconds())
            add(EventKind.VISIT_END, visit.shopper if visit.linked else None, dwell_s=dwell)
        if visit.events:  # an old kiosk's visit with no view sends nothing at all
            made.append(visit)
    end = starts[-1] + timedelta(hours=1)
    later = []
    for n in range(12):  # the web shop: what shoppers wish for from home, days later
        at = START + timedelta(hours=rng.randrange(0, 14 * 24))
        wisher = rng.choice(SHOPPERS)
        event = new_event(kind=EventKind.WISHLIST_ADD, store=ONLINE_STORE, kiosk="web", seq=n + 1,
                          session=uuid.uuid4(), shopper=wisher, sku=rng.choice(SKUS), hlc=_hlc(end, n, "web"))
        later.append(event.model_copy(update={"at": max(at, end)}))
    orders = []
    for n in range(16):
        shopper = rng.choice((*SHOPPERS, None))
        at = START + timedelta(hours=rng.randrange(0, 16 * 24))
        lines = tuple(OrderLine(sku, SIZE, 1, Decimal("10.00")) for sku in rng.sample(SKUS, rng.randrange(1, 3)))
        orders.append(Order(f"order-{n}", shopper, "web", ONLINE_STORE, max(at, end), lines))
    return History(made, later, reservations, orders)


def catalog_file(folder: Path) -> Path:
    """HQ's catalog of the history: its stores (time zones, hours) and products (names, categories)."""
    products = [{"sku": sku, "name": {"es": NAMES[sku], "en": NAMES[sku]},
                 "description": {"es": "Descripción", "en": "Description"},
                 "category": f"cat-{sku[0].lower()}", "brand": "Norte", "price": 10.0, "sizes": [SIZE],
                 "colour": {"es": "negro", "en": "black"}, "image": f"images/{sku.lower()}.png",
                 "stock": {s.id: {SIZE: 50} for s in STORES}} for sku in SKUS]
    catalog = Catalog.model_validate({"catalog_version": 1, "currency": "EUR", "shop_url": "https://shop.example.com",
                                      "stores": [s.model_dump(mode="json") for s in STORES], "products": products})
    path = folder / "catalog.json"
    path.write_text(dump_catalog(catalog), encoding="utf-8")
    return path


def load(store: ProfileStore, history: History, batch: int = 4) -> None:
    """Give HQ the history: each visit's events in batches, the web's, then reservations and orders."""
    store.analytics.know_stores(STORES)
    for visit in history.visits:
        for first in range(0, len(visit.events), batch):
            store.record_many(visit.events[first:first + batch])
    store.record_many(history.later_events)
    for known in STORES:
        store.stock.apply_feed(known.id, 1, {sku: {SIZE: 50} for sku in SKUS}, "hq")
    for shop, kiosk, session, sku, shopper in history.reservations:
        history.made.append(store.reservations.hold(shop, sku, SIZE, shopper, ReservationKind.FITTING_ROOM, None,
                                                    f"kiosk:{kiosk}", kiosk=kiosk, session=session))
    for order in history.orders:
        store.orders.place(order)


# What the answers must be, counted from the raw history.

_ZONES = {s.id: ZoneInfo(s.time_zone) for s in STORES}


def _local(store: str, at: datetime) -> datetime:
    return at.astimezone(_ZONES[store])


@dataclass
class _Pair:
    visit: Visit
    sku: str
    day: date
    wishlisted: bool = False
    reserved: bool = False
    ordered: bool = False


def _pairs(history: History) -> dict[tuple[str, str], _Pair]:
    pairs: dict[tuple[str, str], _Pair] = {}
    for visit in history.visits:
        for e in visit.events:
            if e.kind in (EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP) and e.sku:
                pairs.setdefault((visit.session, e.sku), _Pair(visit, e.sku, _local(visit.store, e.at).date()))
    starts = {v.session: v.events[0].at for v in history.visits if v.events}
    for (session, sku), pair in pairs.items():
        visit, start = pair.visit, starts[session]

        def earned(by_session: str | None, shopper: str | None, at: datetime, skus: set[str]) -> bool:
            return sku in skus and (by_session == session or (  # noqa: B023
                visit.linked and shopper == visit.shopper and start <= at <= start + WINDOW))  # noqa: B023

        pair.wishlisted = any(earned(str(e.session), e.shopper, e.at, {e.sku or ""}) for e in history.events
                              if e.kind is EventKind.WISHLIST_ADD)
        pair.reserved = any(earned(r.session, r.shopper, r.created_at, {r.sku}) for r in history.made)
        pair.ordered = any(earned(None, o.shopper, o.at, {line.sku for line in o.lines}) for o in history.orders)
    return pairs


def _in(day: date, first: date, last: date) -> bool:
    return first <= day <= last


def expected(history: History, first: date, last: date, store: str | None = None,
             limit: int = 20) -> dict[str, dict[str, Any]]:
    """Every answer but uptime, as JSON, for local days ``first`` to ``last`` of ``store`` (None: all)."""
    def mine(shop: str) -> bool:
        return store is None or shop == store

    pairs = [p for p in _pairs(history).values() if mine(p.visit.store)]
    taps: dict[str, int] = defaultdict(int)
    hours = {hour: [0, 0] for hour in range(24)}
    for visit in (v for v in history.visits if mine(v.store)):
        for e in visit.events:
            local = _local(visit.store, e.at)
            if e.kind in (EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP) and _in(local.date(), first, last):
                taps[str(e.sku)] += 1
                hours[local.hour][0] += 1
        start = _local(visit.store, visit.events[0].at)
        if _in(start.date(), first, last):
            hours[start.hour][1] += 1
    rows: list[dict[str, Any]] = []
    for sku in {*taps, *(p.sku for p in pairs if _in(p.day, first, last))}:
        counted = [p for p in pairs if p.sku == sku and _in(p.day, first, last)]
        ordered = sum(p.ordered for p in counted)
        rows.append({"sku": sku, "name": NAMES[sku], "category": f"cat-{sku[0].lower()}", "taps": taps.get(sku, 0),
                     "visits": len(counted), "wishlisted": sum(p.wishlisted for p in counted),
                     "reserved": sum(p.reserved for p in counted), "ordered": ordered,
                     "conversion": ordered / len(counted) if counted else 0.0})
    rows.sort(key=lambda row: (-int(row["taps"]), str(row["sku"])))
    flags: list[tuple[bool, ...]] = []
    by_visit: dict[str, list[_Pair]] = defaultdict(list)
    for p in pairs:
        by_visit[p.visit.session].append(p)
    for visit in (v for v in history.visits if mine(v.store)):
        if not _in(_local(visit.store, visit.events[0].at).date(), first, last):
            continue
        mine_pairs = by_visit[visit.session]
        flags.append((bool(mine_pairs), any(e.kind is EventKind.SUGGESTION_TAP for e in visit.events),
                      any(p.wishlisted or p.reserved for p in mine_pairs), any(p.ordered for p in mine_pairs)))
    reached = [sum(all(f[:step + 1]) for f in flags) for step in range(4)]
    suggested = [f for f in flags if f[1]]
    not_suggested = [f for f in flags if not f[1]]

    def group(visits: list[tuple[bool, ...]]) -> dict[str, Any]:
        converted = sum(f[2] or f[3] for f in visits)
        return {"visits": len(visits), "converted": converted, "conversion": converted / len(visits) if visits else 0.0}

    with_, without = group(suggested), group(not_suggested)
    shown = touched = 0
    for visit in (v for v in history.visits if mine(v.store) and v.store != ONLINE_STORE):
        for e in (e for e in visit.events if _in(_local(visit.store, e.at).date(), first, last)):
            shown += len(e.shown or ()) if e.kind is EventKind.SUGGESTION_SHOWN else 0
            touched += e.kind is EventKind.SUGGESTION_TAP
    head = {"from": first.isoformat(), "to": last.isoformat(), "store": store}
    return {
        "top-products": {**head, "rows": rows[:limit]},
        "hourly": {**head, "rows": [{"hour": h, "taps": t, "visits": v} for h, (t, v) in hours.items()]},
        "funnel": {**head, "steps": [{"step": step, "visits": n, "share": n / reached[0] if reached[0] else 0.0}
                                     for step, n in zip(("tap", "suggestion", "wishlist_or_reservation", "order"),
                                                        reached, strict=True)]},
        "lift": {**head, "with_suggestion": with_, "without_suggestion": without,
                 "lift": with_["conversion"] / without["conversion"] if without["conversion"] else None,
                 "suggestions_shown": shown, "suggestion_taps": touched,
                 "click_through": touched / shown if shown else 0.0},
    }
