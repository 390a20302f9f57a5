"""The dashboard's analytics page in a real headless Chromium (Playwright with Debian's chromium),
served by HQ's app on uvicorn, over a known history stored the way ingest stores it
(``ProfileStore.record_many``, the roll-ups in the same transaction) and an order placed
through the orders API: every figure on the page is checked against a count made by hand
from that history. HQ's key sees every store and picks one; a store's key sees its own
store only, and the fleet's pages refuse its sign-in with a pointer to its analytics.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/analytics.png from this run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, CatalogFile, FleetView, ProfileStore, create_app
from hq._auth import Grant, KeyRole
from hq._store import CardVisit
from hq._uptime import kiosk_spans
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import EventKind, Hlc, LinkState, ReservationKind, TapEvent, load_catalog, new_event
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0",
        "madrid-staff": "madrid-staff-key-0123456789"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro")}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
MADRID, BARCELONA = "madrid-centro", "barcelona-diagonal"
ZONE = ZoneInfo("Europe/Madrid")
HOURS = {**{day: [{"opens": "10:00", "closes": "21:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
         "sun": [{"opens": "11:00", "closes": "20:00"}]}
OUTAGE = (time(15, 0), time(16, 0))  # Madrid's kiosk-01 silent for an hour on the day of the history
HEARTBEAT = timedelta(seconds=85)  # a kiosk's status comes every 30 s; under 90 s apart, HQ takes it as up
BOOT, BAG, KNIT, SANDAL = "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN", "KNIT-CREW-OAT", "SAND-STRAP-CML"
UPDATED = re.compile(r"^Updated \d\d:\d\d$")  # the page has its answers
expect.set_options(timeout=20_000)


def _day() -> date:
    """The day the history happened: two days ago in the stores' own time zone."""
    return datetime.now(ZONE).date() - timedelta(days=2)


def _at(hour: int, minute: int) -> datetime:
    return datetime.combine(_day(), time(hour, minute), ZONE).astimezone(UTC)


def _open_hours(day: date) -> tuple[datetime, datetime]:
    spell = HOURS["sun" if day.weekday() == 6 else "mon"][0]
    opens, closes = (datetime.combine(day, time.fromisoformat(spell[end]), ZONE).astimezone(UTC)
                     for end in ("opens", "closes"))
    return opens, closes


def _heartbeats(hq: Hq, store: str, kiosk: str, start: datetime, end: datetime) -> None:
    """A kiosk online from ``start`` to ``end``, as the fleet view hands its statuses to the uptime log."""
    seen = start
    while seen < end:
        hq.store.uptime.heard(store, kiosk, LinkState.ONLINE, seen)
        seen += HEARTBEAT
    hq.store.uptime.heard(store, kiosk, LinkState.ONLINE, end)


@dataclass
class Visit:
    """One kiosk session: its store and kiosk, its shopper when they agreed to link it, and its steps."""

    store: str
    kiosk: str
    shopper: str | None
    start: datetime
    steps: list[tuple[EventKind, dict[str, object]]]
    session: uuid.UUID = field(default_factory=uuid.uuid4)

    def events(self, first_seq: int) -> list[TapEvent]:
        session = self.session
        kinds = [(EventKind.VISIT_START, {}), *self.steps,
                 (EventKind.VISIT_END, {"dwell_s": 20 * (len(self.steps) + 1)})]
        events = []
        for number, (kind, fields) in enumerate(kinds):
            at = self.start + timedelta(seconds=20 * number)
            if kind is EventKind.WISHLIST_ADD:
                fields = {**fields, "hlc": str(Hlc(int(at.timestamp() * 1000), 0, self.kiosk))}
            event = new_event(kind=kind, store=self.store, kiosk=self.kiosk, seq=first_seq + number,
                              session=session, shopper=self.shopper, **fields)
            events.append(event.model_copy(update={"at": at}))
        return events


def _view(sku: str) -> tuple[EventKind, dict[str, object]]:
    return EventKind.PRODUCT_VIEW, {"sku": sku}


def _suggested(sku: str, beside: str) -> list[tuple[EventKind, dict[str, object]]]:
    return [(EventKind.SUGGESTION_SHOWN, {"shown": (sku,), "beside": beside}),
            (EventKind.SUGGESTION_TAP, {"sku": sku, "beside": beside})]


def _wishlisted(sku: str) -> tuple[EventKind, dict[str, object]]:
    return EventKind.WISHLIST_ADD, {"sku": sku}


# The known history, on one day, in the stores' local time:
#   V1 Madrid kiosk-01 10:05, anonymous: the boots twice, the tote from a suggestion beside them
#   V2 Madrid kiosk-01 11:20, shopper-0001: the boots, put on the wishlist
#   V3 Madrid kiosk-02 17:40, anonymous: the jumper
#   V4 Madrid kiosk-02 18:10, shopper-0002: the tote, the boots from a suggestion, wishlisted; ordered at 18:45
#   V5 Madrid kiosk-01 19:30, anonymous: the sandals
#   V6 Barcelona kiosk-01 12:00, anonymous: the boots
def _history() -> list[Visit]:
    return [
        Visit(MADRID, "kiosk-01", None, _at(10, 5), [_view(BOOT), _view(BOOT), *_suggested(BAG, BOOT)]),
        Visit(MADRID, "kiosk-01", "shopper-0001", _at(11, 20), [_view(BOOT), _wishlisted(BOOT)]),
        Visit(MADRID, "kiosk-02", None, _at(17, 40), [_view(KNIT)]),
        Visit(MADRID, "kiosk-02", "shopper-0002", _at(18, 10), [_view(BAG), *_suggested(BOOT, BAG), _wishlisted(BOOT)]),
        Visit(MADRID, "kiosk-01", None, _at(19, 30), [_view(SANDAL)]),
        Visit(BARCELONA, "kiosk-01", None, _at(12, 0), [_view(BOOT)]),
    ]


# What a store manager must read off the page, counted by hand from the history above.
MADRID_TAPS_BY_HOUR = {10: 3, 11: 1, 17: 1, 18: 2, 19: 1}
MADRID_VISITS_BY_HOUR = {10: 1, 11: 1, 17: 1, 18: 1, 19: 1}
# sku: taps, visits, wishlisted, reserved, ordered, conversion as shown
MADRID_TOP = [(BOOT, 4, 3, 2, 0, 1, "33.3%"), (BAG, 2, 2, 0, 0, 0, "0.0%"), (KNIT, 1, 1, 0, 0, 0, "0.0%"),
              (SANDAL, 1, 1, 0, 0, 0, "0.0%")]
# tap → suggestion → wishlist or reservation → order (nested: each step needs the ones before it)
MADRID_FUNNEL = [("tap", 5, "100.0%"), ("suggestion", 2, "40.0%"), ("wishlist_or_reservation", 1, "20.0%"),
                 ("order", 1, "20.0%")]
# with a suggestion: V1, V4 (V4 converted); without: V2 (wishlisted), V3, V5
MADRID_LIFT = {"with": (2, 1, "50.0%"), "without": (3, 1, "33.3%")}
MADRID_LIFT_SHOWN = "1.50×"


@dataclass
class Hq:
    url: str
    store: ProfileStore


def _catalog(folder: Path) -> Path:
    """The demo catalog, its stores in Spain's time zone, open 10:00-21:00 (Sundays 11:00-20:00)."""
    catalog = json.loads(demo_catalog_path().read_text())
    for store in catalog["stores"]:
        store.update(time_zone="Europe/Madrid", opening_hours=HOURS)
    path = folder / "master.json"
    path.write_text(json.dumps(catalog))
    return path


@pytest.fixture
def hq(fleet: FleetView, sqlite_url: str, tmp_path: Path) -> Iterator[Hq]:
    store = ProfileStore(sqlite_url)
    app = create_app(store, ApiKeys(KEYS, grants=GRANTS), fleet=fleet, catalog=CatalogFile(_catalog(tmp_path)))
    server = ApiServer(app, port=free_port())
    server.start()
    yield Hq(server.url, store)
    server.stop()
    store.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1360, "height": 860}, timezone_id="Europe/Madrid",
                               locale="en-GB", accept_downloads=True)
        browser.close()


def _seed(hq: Hq, visits: list[Visit]) -> None:
    """Each visit as a kiosk's batch reaches ingest (a linked visit with its checked card)."""
    for number, visit in enumerate(visits):
        events = visit.events(100 * number + 1)
        cards = [CardVisit(str(events[0].session), visit.store, visit.kiosk, visit.shopper)] if visit.shopper else []
        assert len(hq.store.record_many(events, cards)) == len(events)


def _kiosks_up(hq: Hq) -> list[tuple[str, str, str, str, str]]:
    """Madrid's two kiosks up from before opening to after closing, kiosk-01 but for ``OUTAGE``;
    the rows the uptime table must show for them (store, kiosk, open hours, online hours, uptime)."""
    opens, closes = _open_hours(_day())
    early, late = opens - timedelta(minutes=10), closes + timedelta(minutes=10)
    _heartbeats(hq, MADRID, "kiosk-01", early, _at(OUTAGE[0].hour, 0))
    _heartbeats(hq, MADRID, "kiosk-01", _at(OUTAGE[1].hour, 0), late)
    _heartbeats(hq, MADRID, "kiosk-02", early, late)
    hours = (closes - opens).total_seconds() / 3600
    return [("Madrid Centro", "kiosk-01", f"{hours:g}", f"{hours - 1:g}", f"{(hours - 1) / hours:.1%}"),
            ("Madrid Centro", "kiosk-02", f"{hours:g}", f"{hours:g}", "100.0%")]


def _order(hq: Hq, shopper: str, sku: str, at: datetime) -> None:
    """The shopper buys one of ``sku`` (its first size) from the web shop, through the orders API."""
    product = load_catalog(demo_catalog_path()).product(sku)
    assert product is not None
    body = {"order_id": f"web-{uuid.uuid4().hex[:12]}", "channel": "web", "store": MADRID, "at": at.isoformat(),
            "lines": [{"sku": sku, "size": product.sizes[0], "quantity": 1, "unit_price": f"{product.price:.2f}"}]}
    answer = httpx.post(f"{hq.url}/v1/shoppers/{shopper}/orders", json=body, headers={"X-Api-Key": KEYS["web"]})
    assert answer.status_code == 201, answer.text


def _open(page: Page, hq: Hq, key: str, query: str) -> None:
    page.goto(f"{hq.url}/fleet/analytics?{query}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Fleet or store key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#updated")).to_have_text(UPDATED)


def _cells(page: Page, table: str) -> list[list[str]]:
    return [[cell.strip() for cell in row] for row in page.locator(f"#{table} tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.innerText))")]


def _chart(page: Page, chart: str, dataset: int) -> list[float]:
    data: list[float] = page.evaluate(f"Chart.getChart('{chart}').data.datasets[{dataset}].data")
    return data


def _assert_madrid(page: Page, uptime: list[tuple[str, str, str, str, str]]) -> None:
    expect(page.locator("#sum-taps")).to_have_text(str(sum(MADRID_TAPS_BY_HOUR.values())))
    expect(page.locator("#sum-visits")).to_have_text(str(sum(MADRID_VISITS_BY_HOUR.values())))
    expect(page.locator("#sum-converted")).to_have_text("2")  # V2 and V4
    assert _chart(page, "chart-hourly", 0) == [MADRID_TAPS_BY_HOUR.get(hour, 0) for hour in range(24)]
    assert _chart(page, "chart-hourly", 1) == [MADRID_VISITS_BY_HOUR.get(hour, 0) for hour in range(24)]
    if not page.locator("#panel-hourly details").evaluate("d => d.open"):
        page.get_by_text("Hour by hour").click()
    hourly = _cells(page, "table-hourly")
    assert [row[0] for row in hourly] == [f"{hour:02d}:00" for hour in range(24)]
    assert [int(row[1]) for row in hourly] == [MADRID_TAPS_BY_HOUR.get(hour, 0) for hour in range(24)]
    top = _cells(page, "table-top")
    assert [(row[1].split("\n")[-1], *map(int, row[3:8]), row[8]) for row in top] == MADRID_TOP
    assert top[0][1].split("\n")[0] == "Botín Chelsea negro" and top[0][2] == "footwear/boots"  # HQ's catalog
    funnel = page.locator("#table-funnel tbody tr")
    assert funnel.evaluate_all("rows => rows.map(r => r.dataset.step)") == [step for step, _, _ in MADRID_FUNNEL]
    assert [(int(row[1]), row[2]) for row in _cells(page, "table-funnel")] == [(n, s) for _, n, s in MADRID_FUNNEL]
    assert _chart(page, "chart-funnel", 0) == [n for _, n, _ in MADRID_FUNNEL]
    lift = _cells(page, "table-lift")
    assert [(int(row[1]), int(row[2]), row[3]) for row in lift] == [MADRID_LIFT["with"], MADRID_LIFT["without"]]
    expect(page.locator("#lift-value")).to_have_text(MADRID_LIFT_SHOWN)
    assert [tuple(row) for row in _cells(page, "table-uptime")] == uptime
    expect(page.locator("#table-uptime tr.uptime-warn")).to_have_count(1)  # kiosk-01: down an hour of the day
    expect(page.locator("#sum-uptime")).to_have_text(f"{(2 * float(uptime[0][2]) - 1) / (2 * float(uptime[0][2])):.1%}")


def _csv(page: Page, table: str) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.locator(f"a.csv[data-table='{table}']").click()
    text = Path(download.value.path()).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_page_shows_every_figure_of_the_history_for_hq_and_for_a_store(hq: Hq, page: Page) -> None:
    _seed(hq, _history())
    _order(hq, "shopper-0002", BOOT, _at(18, 45))
    uptime = _kiosks_up(hq)
    day = _day().isoformat()
    page.goto(f"{hq.url}/fleet/")  # from the fleet's page, by its navigation
    sign_in(page, KEYS["hq"])
    expect(page.locator("#live")).to_have_text("Live")
    page.get_by_role("link", name="Analytics").click()
    expect(page).to_have_url(f"{hq.url}/fleet/analytics")
    expect(page.locator("#updated")).to_have_text(UPDATED)
    expect(page.locator("#store option")).to_have_text(["Every store", "Barcelona Diagonal", "Madrid Centro"])

    page.locator("#from").fill(day)
    page.locator("#to").fill(day)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{hq.url}/fleet/analytics?from={day}&to={day}")
    expect(page.locator("#sum-taps")).to_have_text(str(sum(MADRID_TAPS_BY_HOUR.values()) + 1))  # and Barcelona's
    boots = page.locator("#table-top tbody tr[data-sku='BOOT-CHELSEA-BLK'] td")
    expect(boots.nth(3)).to_have_text("5")  # four taps in Madrid, one in Barcelona

    page.locator("#store").select_option(MADRID)
    expect(page).to_have_url(f"{hq.url}/fleet/analytics?from={day}&to={day}&store={MADRID}")
    expect(page.locator("#sum-taps")).to_have_text(str(sum(MADRID_TAPS_BY_HOUR.values())))
    _assert_madrid(page, uptime)
    rows = _csv(page, "top-products")
    assert [(r["sku"], int(r["taps"]), int(r["ordered"])) for r in rows] == [(s, t, o) for s, t, _, _, _, o, _ in
                                                                            MADRID_TOP]
    assert [int(r["taps"]) for r in _csv(page, "hourly")] == [MADRID_TAPS_BY_HOUR.get(h, 0) for h in range(24)]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#table-top tbody tr")).to_have_count(0)  # nothing of HQ's stays once signed out

    # Madrid's manager, with the store's key: Madrid only, whatever the address asks for.
    _open(page, hq, KEYS["madrid-staff"], f"from={day}&to={day}&store={BARCELONA}")
    expect(page.locator("#store option")).to_have_text(["Madrid Centro"])
    expect(page.locator("#store")).to_be_disabled()
    _assert_madrid(page, uptime)
    expect(page.locator("#table-uptime tbody tr[data-store='barcelona-diagonal']")).to_have_count(0)
    assert {r["sku"] for r in _csv(page, "top-products")} == {sku for sku, *_ in MADRID_TOP}

    page.goto(f"{hq.url}/fleet/offers")  # the fleet-wide offers: not for a store's key
    expect(page.locator("#signin-error")).to_have_text(
        "That key sees one store's kiosks and analytics only, not the whole fleet's.")


def test_a_store_key_session_opens_only_its_store_s_analytics_and_kiosks(hq: Hq) -> None:
    day = _day().isoformat()
    with httpx.Client(base_url=hq.url) as browser:
        assert browser.post("/fleet/session", json={"key": KEYS["web"]}).status_code == 401  # a sales channel
        assert browser.post("/fleet/session", json={"key": KEYS["madrid-staff"]}).status_code == 204
        for path in ("/fleet/api/offers", "/fleet/api/webhooks"):  # the whole fleet's
            assert browser.get(path).status_code == 403, path
        assert browser.get("/fleet/api/kiosks").status_code == 200  # its store's (``test_remote_care``)
        mine = browser.get("/fleet/api/analytics/hourly", params={"from": day, "to": day})
        assert mine.status_code == 200 and mine.json()["store"] == MADRID
        other = browser.get("/fleet/api/analytics/hourly", params={"from": day, "to": day, "store": BARCELONA})
        assert other.status_code == 403 and other.json()["error"] == "other_store"


def _busy_history(first: date, last: date, seed: int = 18) -> list[Visit]:
    """Visits in both stores from ``first`` to ``last``, busier at lunch and after work."""
    rng = random.Random(seed)
    skus = [p.sku for p in load_catalog(demo_catalog_path()).products]
    weights = [12, 4, 7, 3, 2, 6, 5, 8, 3, 9, 4, 2]  # the boots most, the beanie least
    busy = [0] * 10 + [3, 5, 7, 6, 5, 3, 4, 6, 8, 7, 4] + [0] * 3  # visits an hour at most, 10:00 to 20:59
    visits = []
    day = first
    while day <= last:
        for store, kiosks, scale in ((MADRID, ("kiosk-01", "kiosk-02"), 1.0), (BARCELONA, ("kiosk-01",), 0.6)):
            for hour, weight in enumerate(busy):
                for _ in range(rng.randint(0, round(weight * scale))):
                    start = datetime.combine(day, time(hour, rng.randrange(60)), ZONE).astimezone(UTC)
                    looked = rng.choices(skus, weights)[0]
                    steps = [_view(looked)] * rng.choice((1, 1, 1, 2))  # some pick it up twice
                    suggested = rng.random() < 0.4
                    if suggested:
                        steps += _suggested(rng.choice([s for s in skus if s != looked]), looked)
                    shopper = f"shopper-{rng.randrange(1, 60):04d}" if rng.random() < 0.35 else None
                    if shopper and rng.random() < (0.55 if suggested else 0.35):  # a suggestion helps a little
                        steps.append(_wishlisted(str(steps[-1][1]["sku"])))
                    visits.append(Visit(store, rng.choice(kiosks), shopper, start, steps))
        day += timedelta(days=1)
    return visits


# Days (counted back from the last) a kiosk was down, and from when to when, local time.
OUTAGES = {(MADRID, "kiosk-02"): {1: (time(14, 0), time(18, 30)), 4: (time(14, 0), time(18, 30)),
                                  9: (time(16, 0), time(17, 0))},
           (BARCELONA, "kiosk-01"): {6: (time(0, 0), time(23, 59))}}


def _fortnight_up(hq: Hq, first: date, last: date) -> dict[tuple[str, str], tuple[float, float]]:
    """Each kiosk's online spans over the days, as the fleet view leaves them in the uptime log (the
    heartbeats of a fortnight written at once), and its open and online hours counted from them."""
    spans, hours = [], {}
    for (store, kiosk) in [(MADRID, "kiosk-01"), (MADRID, "kiosk-02"), (BARCELONA, "kiosk-01")]:
        open_s = online_s = 0.0
        day = first
        while day <= last:
            opens, closes = _open_hours(day)
            down = OUTAGES.get((store, kiosk), {}).get((last - day).days)
            up = [(opens - timedelta(minutes=10), closes + timedelta(minutes=10))]
            if down:
                cut = [datetime.combine(day, moment, ZONE).astimezone(UTC) for moment in down]
                up = [(start, end) for start, end in ((up[0][0], cut[0]), (cut[1], up[0][1])) if start < end]
            spans += [{"store": store, "kiosk": kiosk, "started_at": start, "last_seen": end, "ended": True}
                      for start, end in up]
            open_s += (closes - opens).total_seconds()
            online_s += sum(max(0.0, (min(end, closes) - max(start, opens)).total_seconds()) for start, end in up)
            day += timedelta(days=1)
        hours[(store, kiosk)] = (open_s / 3600, online_s / 3600)
    with hq.store.engine.begin() as db:
        db.execute(kiosk_spans.insert(), spans)
    return hours


def _looked_at(visit: Visit) -> set[str]:
    return {str(f["sku"]) for k, f in visit.steps if k in (EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP)}


def _reservations(hq: Hq, visits: list[Visit], asking: list[Visit]) -> int:
    """A fitting-room request at the kiosk, now, for the product each of ``asking`` looked at first, in
    the first size in stock (as the kiosk asks HQ for it). Returns how many (visit, product) pairs of
    ``visits`` it counts as reserved, by hand: the visit that asked, and any visit of the same shopper
    in the week before that looked at the product."""
    hq.store.stock.load_catalog(load_catalog(demo_catalog_path()))
    reserved: set[tuple[uuid.UUID, str]] = set()
    for visit in asking:
        sku = str(visit.steps[0][1]["sku"])
        sizes = [line.size for line in hq.store.stock.of(visit.store, sku) if line.available > 0]
        if not sizes:
            continue
        made = hq.store.reservations.hold(visit.store, sku, sizes[0], visit.shopper, ReservationKind.FITTING_ROOM,
                                          None, "kiosk", kiosk=visit.kiosk, session=str(visit.session))
        reserved |= {(v.session, sku) for v in visits if sku in _looked_at(v) and (v is visit or (
            v.shopper == visit.shopper and made.created_at - timedelta(days=7) <= v.start <= made.created_at))}
    return len(reserved)


def test_a_fortnight_reads_as_a_store_manager_expects(hq: Hq, page: Page, tmp_path: Path) -> None:
    last = datetime.now(ZONE).date() - timedelta(days=2)
    first = last - timedelta(days=13)
    visits = _busy_history(first, last)
    by_day: dict[date, list[TapEvent]] = {}
    for number, visit in enumerate(visits):  # a day's taps in one batch, as ingest takes a backlog
        by_day.setdefault(visit.start.date(), []).extend(visit.events(100 * number + 1))
    cards = [CardVisit(str(e.session), e.store, e.kiosk, e.shopper) for batch in by_day.values() for e in batch
             if e.kind is EventKind.VISIT_START and e.shopper]
    for batch in by_day.values():
        hq.store.record_many(batch, cards)
    kept = [v for v in visits if v.shopper and any(k is EventKind.WISHLIST_ADD for k, _ in v.steps)]
    for visit in kept[::3]:  # a third of the shoppers who kept a product buy it an hour later
        _order(hq, str(visit.shopper), next(str(f["sku"]) for k, f in visit.steps if k is EventKind.WISHLIST_ADD),
               visit.start + timedelta(hours=1))
    reserved = _reservations(hq, visits, [v for v in visits if v.shopper and v not in kept][::4])
    hours = _fortnight_up(hq, first, last)
    taps = Counter(str(f["sku"]) for v in visits for k, f in v.steps
                   if k in (EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP))

    _open(page, hq, KEYS["hq"], f"from={first}&to={last}")
    expect(page.locator("#sum-taps")).to_have_text(f"{sum(taps.values()):,}")
    expect(page.locator("#sum-visits")).to_have_text(f"{len(visits):,}")
    assert [(row[1].split("\n")[-1], int(row[3])) for row in _cells(page, "table-top")] == [
        (sku, n) for sku, n in sorted(taps.items(), key=lambda item: (-item[1], item[0]))[:10]]
    page.locator("#limit").select_option("25")  # every product of the catalog
    expect(page.locator("#table-top tbody tr")).to_have_count(len(taps))
    assert sum(int(row[6]) for row in _cells(page, "table-top")) == reserved > 0
    page.locator("#limit").select_option("10")
    expect(page.locator("#table-top tbody tr")).to_have_count(10)
    names = {MADRID: "Madrid Centro", BARCELONA: "Barcelona Diagonal"}
    assert [tuple(row) for row in _cells(page, "table-uptime")] == [
        (names[store], kiosk, f"{open_h:g}", f"{online_h:.1f}".removesuffix(".0"), f"{online_h / open_h:.1%}")
        for (store, kiosk), (open_h, online_h) in sorted(hours.items())]
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / "analytics.png"
    page.screenshot(path=str(target), full_page=True)
