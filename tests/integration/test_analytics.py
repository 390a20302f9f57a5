"""HQ's analytics on SQLite and PostgreSQL: every figure of every answer, as the JSON API gives
it, against the same figure counted from the raw history (``testkit.analytics_history``);
who may see which store; bad ranges; CSV; an erase; kiosk uptime from real statuses."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from backend_sync import KioskFacts, KioskLink, Outbox
from hq import ApiKeys, CatalogFile, FleetView, Grant, KeyRole, ProfileStore, create_app
from hq._analytics import ANALYTICS_TABLES
from hq._analytics_queries import AnalyticsQueries, AnalyticsRange, OfferCounts
from hq._orders import Order, OrderLine
from hq._uptime import kiosk_spans
from kiosk_protocol import ONLINE_STORE, ConsentStatus, EventKind, LinkState, Offer, new_event
from testkit.analytics_history import SIZE, STORES, History, catalog_file, expected, known_history, load
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KEYS = {"hq": "hq-key-0123456789abcdef0", "web": "web-key-0123456789abcdef",
        "madrid-staff": "staff-key-0123456789abcdef", "cdmx-staff": "cdmx-key-0123456789abcdef"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro"), "cdmx-staff": Grant(KeyRole.STORE, "cdmx-polanco")}
HQ, WEB = {"X-Api-Key": KEYS["hq"]}, {"X-Api-Key": KEYS["web"]}
MADRID = {"X-Api-Key": KEYS["madrid-staff"]}
NAMES = ("top-products", "hourly", "funnel", "lift")
# (from, to, store): the whole history; one local day on each side of a month's end; one day of one store.
RANGES = [
    (date(2026, 2, 20), date(2026, 3, 31), None),
    (date(2026, 2, 28), date(2026, 2, 28), None),
    (date(2026, 3, 1), date(2026, 3, 1), None),
    (date(2026, 2, 27), date(2026, 3, 1), "madrid-centro"),
    (date(2026, 2, 27), date(2026, 2, 27), "cdmx-polanco"),
    (date(2026, 1, 1), date(2026, 1, 31), None),  # before anything happened
]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[ProfileStore]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    profile_store = ProfileStore(url)
    yield profile_store
    profile_store.close()


@pytest.fixture
def history(store: ProfileStore) -> History:
    made = known_history()
    load(store, made)
    return made


@pytest.fixture
def client(store: ProfileStore, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(store, ApiKeys(KEYS, grants=GRANTS), catalog=CatalogFile(catalog_file(tmp_path)))
    with TestClient(app) as test_client:
        yield test_client


def _answers(client: TestClient, first: date, last: date, store: str | None = None,
             headers: dict[str, str] = HQ) -> dict[str, Any]:
    query = f"from={first}&to={last}" + (f"&store={store}" if store else "")
    answers = {}
    for name in NAMES:
        response = client.get(f"/fleet/api/analytics/{name}?{query}", headers=headers)
        assert response.status_code == 200, response.text
        answers[name] = response.json()
    return answers


def test_every_figure_is_the_count_of_the_raw_history(store: ProfileStore, history: History,
                                                      client: TestClient) -> None:
    for first, last, shop in RANGES:
        assert _answers(client, first, last, shop) == expected(history, first, last, shop), (first, last, shop)
    top = client.get(f"/fleet/api/analytics/top-products?from={RANGES[0][0]}&to={RANGES[0][1]}&limit=3", headers=HQ)
    assert top.json() == expected(history, RANGES[0][0], RANGES[0][1], limit=3)["top-products"]


def test_redelivered_events_and_a_retried_order_count_once(store: ProfileStore, history: History,
                                                           client: TestClient) -> None:
    first, last = RANGES[0][:2]
    before = _answers(client, first, last)
    for visit in history.visits:  # every event again, in other batches
        store.record_many(visit.events)
    store.record_many(history.later_events)
    for order in history.orders:
        store.orders.place(order)
    assert _answers(client, first, last) == before == expected(history, first, last)
    assert before["funnel"]["steps"][2]["visits"] > 0 and before["top-products"]["rows"][0]["ordered"] >= 0


def test_concurrent_workers_storing_the_same_events_count_each_once(postgres_url: str) -> None:
    history = known_history(seed=7, visits=30)
    stores = [ProfileStore(postgres_url) for _ in range(3)]
    try:
        stores[0].analytics.know_stores(STORES)
        barrier = threading.Barrier(len(stores))
        failures: list[BaseException] = []

        def work(worker: ProfileStore) -> None:
            barrier.wait()
            try:
                for visit in history.visits:
                    for start in range(0, len(visit.events), 3):
                        worker.record_many(visit.events[start:start + 3])
            except BaseException as exc:  # reported below, on the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        queries = AnalyticsQueries(stores[0].engine, stores[0].uptime, lambda: {})
        first, last = RANGES[0][:2]
        span = AnalyticsRange(first, last)
        alone = History(history.visits, [], [], [])
        want = expected(alone, first, last)
        assert queries.funnel(span).model_dump(mode="json", by_alias=True) == want["funnel"]
        assert queries.lift(span).model_dump(mode="json", by_alias=True) == want["lift"]
        assert queries.hourly(span).model_dump(mode="json", by_alias=True) == want["hourly"]
        assert [(r.sku, r.taps, r.visits, r.wishlisted) for r in queries.top_products(span).rows] == [
            (r["sku"], r["taps"], r["visits"], r["wishlisted"]) for r in want["top-products"]["rows"]]
    finally:
        for worker in stores:
            worker.close()


def test_a_store_key_sees_only_its_own_store(store: ProfileStore, history: History, client: TestClient) -> None:
    first, last = RANGES[0][:2]
    assert _answers(client, first, last, headers=MADRID) == expected(history, first, last, "madrid-centro")
    assert _answers(client, first, last, "madrid-centro", headers=MADRID) == expected(history, first, last,
                                                                                      "madrid-centro")
    for name in (*NAMES, "uptime"):
        refused = client.get(f"/fleet/api/analytics/{name}?store=cdmx-polanco", headers=MADRID)
        assert (refused.status_code, refused.json()["error"]) == (403, "other_store")
        assert client.get(f"/fleet/api/analytics/{name}", headers=WEB).status_code == 403  # a sales channel
        assert client.get(f"/fleet/api/analytics/{name}").status_code == 401
    assert client.app.state.analytics.other_store == 5  # type: ignore[attr-defined]
    assert client.app.state.analytics.not_allowed == 5  # type: ignore[attr-defined]


BAD_RANGES = [
    ("from=2026-03-02&to=2026-03-01", "after"),
    ("from=2026-02-30", "not a date"),
    ("from=yesterday&to=2026-03-01", "not a date"),
    ("from=2024-01-01&to=2026-03-01", "at most 366"),
    ("to=2026-13-01", "not a date"),
    ("from=%3D1%2B1&to=2026-03-01", "not a date"),
    ("from=&to=2026-03-01", "not a date"),  # empty is not left out
]


@pytest.mark.parametrize(("query", "says"), BAD_RANGES)
def test_a_range_that_is_not_one_is_refused_and_counted(store: ProfileStore, client: TestClient, query: str,
                                                        says: str) -> None:
    for name in (*NAMES, "uptime"):
        response = client.get(f"/fleet/api/analytics/{name}?{query}", headers=HQ)
        assert response.status_code == 422
        assert response.json()["error"] == "invalid_range" and says in response.json()["detail"]
    assert client.app.state.analytics.invalid_ranges == 5  # type: ignore[attr-defined]


def test_hostile_parameters_get_a_clear_error(store: ProfileStore, client: TestClient) -> None:
    for query in ("store=Madrid%27--", "limit=0", "limit=100000", "format=xlsx", f"from={'9' * 60}"):
        response = client.get(f"/fleet/api/analytics/top-products?{query}", headers=HQ)
        assert (response.status_code, response.json()["error"]) == (422, "invalid_request"), query


def test_each_table_as_csv_is_the_json(store: ProfileStore, history: History,
                                                           client: TestClient) -> None:
    first, last = RANGES[0][:2]
    answers = _answers(client, first, last)
    tables = {}
    for name in (*NAMES, "uptime"):
        response = client.get(f"/fleet/api/analytics/{name}?from={first}&to={last}&format=csv", headers=HQ)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert f'filename="{name}-{first}-{last}.csv"' in response.headers["content-disposition"]
        tables[name] = list(csv.DictReader(io.StringIO(response.text)))
    assert {row["sku"]: row["name"] for row in tables["top-products"]}["HAT-3"] == "Sombrero"
    assert [(r["sku"], int(r["taps"]), int(r["ordered"]), float(r["conversion"])) for r in tables["top-products"]] \
        == [(r["sku"], r["taps"], r["ordered"], r["conversion"]) for r in answers["top-products"]["rows"]]
    assert [(int(r["hour"]), int(r["taps"]), int(r["visits"])) for r in tables["hourly"]] == [
        (r["hour"], r["taps"], r["visits"]) for r in answers["hourly"]["rows"]]
    assert [(r["step"], int(r["visits"])) for r in tables["funnel"]] == [
        (s["step"], s["visits"]) for s in answers["funnel"]["steps"]]
    lift = answers["lift"]
    assert [(r["group"], int(r["visits"]), int(r["converted"])) for r in tables["lift"]] == [
        ("with_suggestion", lift["with_suggestion"]["visits"], lift["with_suggestion"]["converted"]),
        ("without_suggestion", lift["without_suggestion"]["visits"], lift["without_suggestion"]["converted"])]
    first = tables["lift"][0]
    assert (int(first["suggestions_shown"]), int(first["suggestion_taps"]), float(first["click_through"])) == (
        lift["suggestions_shown"], lift["suggestion_taps"], lift["click_through"])
    assert lift["suggestions_shown"] > lift["suggestion_taps"] > 0 and tables["lift"][1]["click_through"] == ""


def _rows_naming(store: ProfileStore, text: str) -> list[tuple[str, Any]]:
    found = []
    with store.engine.connect() as db:
        for table in ANALYTICS_TABLES:
            for row in db.execute(sa.select(table)):
                if any(text in str(value) for value in row):
                    found.append((table.name, row))
    return found


def test_an_erase_takes_the_shopper_out_of_analytics_and_leaves_the_counts(store: ProfileStore, history: History,
                                                                           client: TestClient) -> None:
    first, last = RANGES[0][:2]
    linked = next(v for v in history.visits if v.linked and v.shopper)
    shopper = str(linked.shopper)
    before = _answers(client, first, last)
    assert _rows_naming(store, shopper)  # the link HQ keeps for what the shopper buys later
    store.erase(shopper)
    assert _rows_naming(store, shopper) == []
    assert _answers(client, first, last) == before
    viewed = sorted({str(e.sku) for e in linked.events if e.sku})
    store.orders.place(Order("after-the-erase", shopper, "web", ONLINE_STORE, linked.events[-1].at + timedelta(hours=1),
                             tuple(OrderLine(sku, SIZE, 1, Decimal("10.00")) for sku in viewed)))
    assert _answers(client, first, last) == before  # nothing links the visit to the person any more


def test_a_consent_withdrawn_unlinks_the_shoppers_visits(store: ProfileStore, history: History) -> None:
    linked = next(v for v in history.visits if v.linked and v.shopper)
    shopper = str(linked.shopper)
    assert _rows_naming(store, shopper)
    store.record_many([new_event(kind=EventKind.CONSENT, store="madrid-centro", kiosk="kiosk-01", seq=10_000,
                                 session=uuid.uuid4(), shopper=shopper, consent=ConsentStatus.REVOKED,
                                 hlc="999999999999999-000000-kiosk-01")])
    assert _rows_naming(store, shopper) == []


MONDAY = date(2026, 3, 2)  # Madrid: open 10-14 and 17-21, UTC+1; so 09:00-13:00 and 16:00-20:00 UTC


def _beats(store: ProfileStore, kiosk: str, start: datetime, end: datetime, every_s: int = 60,
           where: str = "madrid-centro") -> None:
    at = start
    while at <= end:
        store.uptime.heard(where, kiosk, LinkState.ONLINE, at)
        at += timedelta(seconds=every_s)


def test_uptime_is_the_share_of_opening_hours_each_kiosk_was_online(store: ProfileStore, client: TestClient) -> None:
    utc = lambda h, m=0: datetime(2026, 3, 2, h, m, tzinfo=UTC)  # noqa: E731
    _beats(store, "kiosk-01", utc(8), utc(11, 30))  # before opening until 12:30 local
    store.uptime.heard("madrid-centro", "kiosk-01", LinkState.OFFLINE, utc(11, 30))  # its last will
    _beats(store, "kiosk-01", utc(17), utc(18))  # then silent: down from its last heartbeat
    _beats(store, "kiosk-01", utc(19), utc(20, 30))  # past closing
    store.uptime.heard("madrid-centro", "kiosk-01", LinkState.OFFLINE, utc(20, 30))
    _beats(store, "kiosk-02", utc(9), utc(9, 30))  # half an hour of a day
    store.uptime.heard("madrid-centro", "kiosk-02", LinkState.ONLINE, utc(9, 30))
    queries = AnalyticsQueries(store.engine, store.uptime, clock=lambda: utc(23))
    store.analytics.know_stores(STORES)
    answer = queries.uptime(AnalyticsRange(MONDAY, MONDAY, "madrid-centro"))
    assert [(r.kiosk, r.open_hours, r.online_hours) for r in answer.rows] == [
        ("kiosk-01", 8.0, 2.5 + 1 + 1), ("kiosk-02", 8.0, 0.5)]
    assert answer.rows[0].uptime == 4.5 / 8
    # Up to now only: at 10:00 UTC (11:00 local) the day's first hour is all there is.
    early = AnalyticsQueries(store.engine, store.uptime, clock=lambda: utc(10)).uptime(
        AnalyticsRange(MONDAY, MONDAY, "madrid-centro"))
    assert [(r.kiosk, r.open_hours, r.online_hours) for r in early.rows] == [("kiosk-01", 1.0, 1.0),
                                                                           ("kiosk-02", 1.0, 0.5)]
    sunday = queries.uptime(AnalyticsRange(MONDAY - timedelta(days=1), MONDAY - timedelta(days=1), "madrid-centro"))
    assert [(r.kiosk, r.open_hours, r.uptime) for r in sunday.rows] == [("kiosk-01", 0.0, 0.0), ("kiosk-02", 0.0, 0.0)]


def test_every_stores_uptime_merges_copies_and_counts_each_store_by_its_own_hours(store: ProfileStore) -> None:
    utc = lambda h, m=0: datetime(2026, 3, 2, h, m, tzinfo=UTC)  # noqa: E731
    store.analytics.know_stores(STORES)
    _beats(store, "kiosk-02", utc(9), utc(9, 30))
    # Another HQ process's fleet view kept a copy of part of that span: merged, not counted twice.
    with store.engine.begin() as db:
        db.execute(kiosk_spans.insert().values(store="madrid-centro", kiosk="kiosk-02", started_at=utc(9, 10),
                                               last_seen=utc(9, 40), ended=True))
    _beats(store, "kiosk-31", utc(8), utc(9), where="cdmx-polanco")  # 02:00-03:00 on Mexico City's Monday
    _beats(store, "kiosk-41", utc(8), utc(10), where="outlet-sur")  # a store HQ's catalog does not list
    _beats(store, "kiosk-42", utc(1), utc(2), where="outlet-sur")
    store.uptime.heard("outlet-sur", "kiosk-42", LinkState.OFFLINE, utc(2))
    answer = AnalyticsQueries(store.engine, store.uptime, clock=lambda: utc(23)).uptime(AnalyticsRange(MONDAY, MONDAY))
    assert [(r.store, r.kiosk, r.open_hours, r.online_hours) for r in answer.rows] == [
        ("cdmx-polanco", "kiosk-31", 17.0, 1.0),  # open around the clock, up to now (17:00 there)
        ("madrid-centro", "kiosk-02", 8.0, round(40 / 60, 3)),
        ("outlet-sur", "kiosk-41", 23.0, 2.0),  # around the clock in UTC
        ("outlet-sur", "kiosk-42", 23.0, 1.0)]
    before = AnalyticsQueries(store.engine, store.uptime, clock=lambda: utc(23)).uptime(
        AnalyticsRange(MONDAY - timedelta(days=3), MONDAY - timedelta(days=1)))
    assert [(r.kiosk, r.online_hours) for r in before.rows] == [  # heard of, not online then
        ("kiosk-31", 0.0), ("kiosk-02", 0.0), ("kiosk-41", 0.0), ("kiosk-42", 0.0)]


def test_uptime_follows_real_kiosk_statuses_through_the_fleet_view(store: ProfileStore, mosquitto: Mosquitto,
                                                                     tmp_path: Path, client: TestClient) -> None:
    view = FleetView(mosquitto.url)
    view.listen(store.uptime.follow)
    view.start()
    link = KioskLink(mosquitto.url, "madrid-centro", "kiosk-07", Outbox(tmp_path / "outbox.sqlite"),
                     facts=lambda: KioskFacts(app_version="1.0", catalog_version=1, reader="online"))
    try:
        assert view.subscribed.wait(10)
        link.start()

        def spans() -> list[Any]:
            with store.engine.connect() as db:
                return list(db.execute(sa.select(kiosk_spans).where(kiosk_spans.c.kiosk == "kiosk-07")))

        assert eventually(lambda: len(spans()) == 1 and not spans()[0].ended)
        link.stop()
        assert eventually(lambda: len(spans()) == 1 and spans()[0].ended)
        today = datetime.now(UTC).date()
        days = f"from={today - timedelta(days=1)}&to={today}"
        response = client.get(f"/fleet/api/analytics/uptime?{days}&store=cdmx-polanco",
                              headers={"X-Api-Key": KEYS["cdmx-staff"]})
        assert response.status_code == 200 and response.json()["rows"] == []  # another store's kiosk
        mine = client.get(f"/fleet/api/analytics/uptime?{days}", headers=MADRID)
        assert [row["kiosk"] for row in mine.json()["rows"]] == ["kiosk-07"]
    finally:
        link.stop()
        view.stop()


def test_offer_taps_saves_and_redemptions_are_counted_by_store(store: ProfileStore, client: TestClient) -> None:
    now = datetime.now(UTC)
    store.offers.merge([Offer.model_validate({
        "id": "WINTER-BOOTS", "title": {"es": "Botas de invierno", "en": "Winter boots"},
        "terms": {"es": "Una vez", "en": "Once"}, "discount": {"kind": "percent", "value": 20}, "skus": ["BOOT-1"],
        "stores": ["madrid-centro"], "starts": (now - timedelta(days=1)).isoformat(),
        "ends": (now + timedelta(days=1)).isoformat()})])
    session = uuid.uuid4()
    store.record_many([new_event(kind=EventKind.OFFER_TAP, store="madrid-centro", kiosk="kiosk-01", seq=n,
                                 session=session, shopper=None, offer="WINTER-BOOTS") for n in range(1, 4)])
    coupons = "/v1/shoppers/shopper-01/coupons/WINTER-BOOTS"
    assert client.put(coupons, headers=WEB).status_code == 201  # saved from the web shop
    for _ in range(2):  # a retry is the same redemption
        redeemed = client.post(f"{coupons}/redeem", headers={**MADRID, "Idempotency-Key": "till-4711"})
        assert redeemed.status_code == 200, redeemed.text
    queries = AnalyticsQueries(store.engine, store.uptime)
    days = now.date() - timedelta(days=1), now.date() + timedelta(days=1)
    assert queries.offers(AnalyticsRange(*days)) == [OfferCounts("WINTER-BOOTS", taps=3, saves=1, redemptions=1)]
    assert queries.offers(AnalyticsRange(*days, "madrid-centro")) == [OfferCounts("WINTER-BOOTS", 3, 0, 1)]
