"""Stock and reservations with real parts: HQ's API over a real socket, on SQLite and on a
throwaway PostgreSQL. Twenty shoppers holding the last unit at the same instant get it
once; a store's feed replaces the catalog's figures once per version; holds expire on
their own, cancel and collect free or take their unit; staff move them on; a collected
one is an order of the shopper's; a store key acts in its own store only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hq import ApiKeys, ApiServer, Grant, HoldSweeper, KeyRole, ProfileStore, create_app
from hq._reservations import reservations
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import load_catalog
from testkit.waiting import eventually

KEYS = {"web": "web-key-0123456789abcdef", "madrid-staff": "madrid-key-0123456789abcdef",
        "bcn-staff": "bcn-key-0123456789abcdef"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro"),
          "bcn-staff": Grant(KeyRole.STORE, "barcelona-diagonal")}
WEB, MADRID, BCN = ({"X-Api-Key": KEYS[name]} for name in ("web", "madrid-staff", "bcn-staff"))
STORE, OTHER = "madrid-centro", "barcelona-diagonal"
BOOT = "BOOT-CHELSEA-BLK"  # in the demo catalog, madrid-centro: 38:2 39:0 40:5 41:1 42:3
SHOPPER = "shopper-0042"
RESERVATIONS = f"/v1/stores/{STORE}/reservations"
STOCK = f"/v1/stores/{STORE}/stock"


class Hq:
    """HQ's API on a real socket, its stock loaded from the demo catalog."""

    def __init__(self, url: str) -> None:
        self.store = ProfileStore(url)
        self.catalog = load_catalog(demo_catalog_path())
        self.store.stock.load_catalog(self.catalog)
        self.app = create_app(self.store, ApiKeys(KEYS, grants=GRANTS))
        self.server = ApiServer(self.app, port=free_port())
        self.server.start()
        self.web = httpx.Client(base_url=self.server.url, headers=WEB, timeout=30)
        self.madrid = httpx.Client(base_url=self.server.url, headers=MADRID, timeout=30)
        self.bcn = httpx.Client(base_url=self.server.url, headers=BCN, timeout=30)

    def hold(self, size: str = "41", client: httpx.Client | None = None, **body: object) -> httpx.Response:
        return (client or self.web).post(RESERVATIONS, json={"sku": BOOT, "size": size, "kind": "fitting_room",
                                                             **body})

    def size(self, size: str, store: str = STORE) -> dict[str, Any]:
        rows = _answer(self.web.get(f"/v1/stores/{store}/stock", params={"sku": BOOT}), 200)["stock"]
        return next(row for row in rows if row["size"] == size)

    def close(self) -> None:
        for client in (self.web, self.madrid, self.bcn):
            client.close()
        self.server.stop()
        self.store.close()


@pytest.fixture
def hq(sqlite_url: str) -> Iterator[Hq]:
    server = Hq(sqlite_url)
    yield server
    server.close()


@pytest.fixture
def pg_hq(postgres_url: str) -> Iterator[Hq]:
    server = Hq(postgres_url)
    yield server
    server.close()


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def any_hq(request: pytest.FixtureRequest) -> Iterator[Hq]:
    """HQ on either database: PostgreSQL holds a free unit in one statement, SQLite in a transaction."""
    server = Hq(request.getfixturevalue(request.param))
    yield server
    server.close()


def _answer(response: httpx.Response, status: int, error: str | None = None) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    if error is not None:
        assert body["error"] == error and body["detail"], body
    return body


def _at_once(hq: Hq, count: int, send: Any) -> list[httpx.Response]:
    """``count`` requests, each from its own thread and connection, let go at the same instant."""
    start = threading.Barrier(count)
    answers: list[httpx.Response | None] = [None] * count

    def run(n: int) -> None:
        with httpx.Client(base_url=hq.server.url, headers=WEB, timeout=60) as client:
            start.wait(30)
            answers[n] = send(client, n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def test_twenty_shoppers_holding_the_last_unit_at_once_get_it_once_on_postgresql(pg_hq: Hq) -> None:
    assert pg_hq.size("41")["available"] == 1
    answers = _at_once(pg_hq, 20, lambda client, n: pg_hq.hold(client=client, shopper=f"shopper-{n:04d}"))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 19
    assert all(a.json()["error"] == "out_of_stock" for a in answers if a.status_code == 409)
    assert pg_hq.size("41") == {"sku": BOOT, "size": "41", "units": 1, "held": 1, "available": 0}
    with pg_hq.store.engine.connect() as db:
        held = db.scalar(sa.select(sa.func.count()).select_from(reservations).where(reservations.c.size == "41"))
    assert held == 1
    assert pg_hq.store.reservations.refused["out_of_stock"] == 19


def test_holds_and_cancels_at_once_on_postgresql_never_lose_a_unit(pg_hq: Hq) -> None:
    made = [_answer(pg_hq.hold("40"), 201)["id"] for _ in range(3)]  # 5 units: 2 left
    answers = _at_once(pg_hq, 12, lambda client, n: client.delete(f"{RESERVATIONS}/{made[n]}") if n < 3
                       else pg_hq.hold("40", client))
    assert sorted(a.status_code for a in answers[:3]) == [200] * 3
    granted = [a for a in answers[3:] if a.status_code == 201]
    assert 2 <= len(granted) <= 5
    assert pg_hq.size("40")["held"] == len(granted)


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "postgres_url"])
def test_a_feed_replaces_the_catalogs_figures_once_per_version(url_fixture: str, request: pytest.FixtureRequest
                                                               ) -> None:
    hq = Hq(request.getfixturevalue(url_fixture))
    try:
        before = _answer(hq.web.get(STOCK, params={"sku": BOOT}), 200)
        assert before["version"] is None  # the catalog's, until the store's first feed
        assert [(r["size"], r["units"]) for r in before["stock"]] == [("38", 2), ("39", 0), ("40", 5), ("41", 1),
                                                                      ("42", 3)]
        feed = {"version": 7, "stock": {BOOT: {"40": 1, "39": 4}}}
        assert _answer(hq.madrid.put(STOCK, json=feed), 200) == {"store": STORE, "version": 7, "applied": True}
        after = {r["size"]: r["units"] for r in _answer(hq.web.get(STOCK, params={"sku": BOOT}), 200)["stock"]}
        assert after == {"38": 2, "39": 4, "40": 1, "41": 1, "42": 3}  # sizes not listed keep theirs
        same_in_other_order = {"version": 7, "stock": {BOOT: {"39": 4, "40": 1}}}
        assert _answer(hq.madrid.put(STOCK, json=same_in_other_order), 200)["applied"] is False
        _answer(hq.madrid.put(STOCK, json={"version": 7, "stock": {BOOT: {"40": 2}}}), 409, "version_conflict")
        _answer(hq.madrid.put(STOCK, json={"version": 6, "stock": {BOOT: {"40": 2}}}), 409, "stale_version")
        assert hq.store.stock.feeds_refused == {"version_conflict": 1, "stale_version": 1}
        _answer(hq.madrid.put(STOCK, json={"version": 8, "stock": {BOOT: {"40": 0}}}), 200)
        assert hq.size("40")["units"] == 0
        last = {"version": 2**53 - 1, "stock": {BOOT: {"40": 0}}}  # the highest version there is
        assert _answer(hq.madrid.put(STOCK, json=last), 200)["version"] == 2**53 - 1
        # A new catalog file: the store with a feed keeps HQ's figures, the other takes the catalog's.
        changed = hq.catalog.model_copy(update={"products": tuple(
            p.model_copy(update={"stock": {s: {size: 9 for size in p.sizes} for s in (STORE, OTHER)}})
            for p in hq.catalog.products)})
        hq.store.stock.load_catalog(changed)
        assert hq.size("40")["units"] == 0
        assert hq.size("40", OTHER)["units"] == 9
    finally:
        hq.close()


BAD_FEEDS = [
    ({"version": "7", "stock": {BOOT: {"40": 1}}}, "a version as text"),
    ({"version": 0, "stock": {BOOT: {"40": 1}}}, "version 0"),
    ({"version": 7.5, "stock": {BOOT: {"40": 1}}}, "a fractional version"),
    ({"version": 2**53, "stock": {BOOT: {"40": 1}}}, "a version no JSON reader holds exactly"),
    ({"version": 7, "stock": {BOOT: {"40": -1}}}, "negative units"),
    ({"version": 7, "stock": {BOOT: {"40": True}}}, "units as a boolean"),
    ({"version": 7, "stock": {BOOT: {"40": "1"}}}, "units as text"),
    ({"version": 7, "stock": {BOOT: {"40": 10**9}}}, "units beyond any store"),
    ({"version": 7, "stock": {"boot-lower": {"40": 1}}}, "not a SKU"),
    ({"version": 7, "stock": {BOOT: {"4\x000": 1}}}, "a size with a control character"),
    ({"version": 7, "stock": {BOOT: {}}}, "a SKU without sizes"),
    ({"version": 7, "stock": {BOOT: {str(n): 1 for n in range(51)}}}, "more sizes than any product has"),
    ({"version": 7, "stock": {BOOT: {"40": 1}}, "replace": True}, "an unknown field"),
    ({"stock": {BOOT: {"40": 1}}}, "no version"),
    ([1, 2], "not an object"),
]


@pytest.mark.parametrize(("body", "why"), BAD_FEEDS, ids=[why for _, why in BAD_FEEDS])
def test_a_feed_that_does_not_fit_is_refused_and_changes_nothing(hq: Hq, body: object, why: str) -> None:
    _answer(hq.madrid.put(STOCK, json=body), 422, "invalid_request")
    assert hq.size("40")["units"] == 5 and hq.store.stock.version_of(STORE) is None


def test_unknown_stores_and_bad_store_ids_are_refused(hq: Hq) -> None:
    _answer(hq.web.get("/v1/stores/lisboa/stock"), 404, "unknown_store")
    for bad in ("Madrid", "-madrid", "m" * 65, "madrid%20centro"):
        _answer(hq.web.get(f"/v1/stores/{bad}/stock"), 422, "invalid_request")
        _answer(hq.web.post(f"/v1/stores/{bad}/reservations", json={"sku": BOOT, "size": "41",
                                                                     "kind": "collect"}), 422, "invalid_request")
    _answer(httpx.get(f"{hq.server.url}{STOCK}"), 401, "unauthorized")


def test_a_hold_answers_each_case(any_hq: Hq) -> None:
    hq = any_hq
    made = _answer(hq.hold(shopper=SHOPPER), 201)
    assert {k: made[k] for k in ("store", "sku", "size", "shopper", "kind", "state", "channel", "note")} == {
        "store": STORE, "sku": BOOT, "size": "41", "shopper": SHOPPER, "kind": "fitting_room", "state": "held",
        "channel": "web", "note": None}
    lasts = datetime.fromisoformat(made["expires_at"]) - datetime.fromisoformat(made["created_at"])
    assert lasts == timedelta(minutes=20)
    collect = _answer(hq.hold("40", kind="collect"), 201)
    assert datetime.fromisoformat(collect["expires_at"]) - datetime.fromisoformat(collect["created_at"]) == \
        timedelta(days=2)
    assert _answer(hq.hold("40", kind="collect", hold_minutes=7 * 24 * 60), 201)["shopper"] is None
    _answer(hq.hold("41"), 409, "out_of_stock")  # its one unit is held
    _answer(hq.hold("39"), 409, "out_of_stock")  # none in the store at all
    _answer(hq.hold("45"), 404, "unknown_product")
    _answer(hq.web.post(RESERVATIONS, json={"sku": "NO-SUCH-SKU", "size": "40", "kind": "collect"}), 404,
            "unknown_product")
    too_long = _answer(hq.hold("40", hold_minutes=121), 422, "invalid_request")  # a fitting room's 120 at most
    assert too_long["detail"] == [{"where": "body.fitting_room.hold_minutes",
                                   "problem": "Input should be less than or equal to 120"}]
    assert hq.size("40")["held"] == 2
    # The shopper's hold is in their profile's change log; the anonymous ones and the refused are not.
    assert [(c.shopper, c.fields["reservation"], c.fields["state"]) for c in hq.store.changes.page(0, 10)] == [
        (SHOPPER, made["id"], "held")]
    assert len({r.revision for r in hq.store.reservations.open_in(STORE)}) == 3  # a revision of its own each


BAD_HOLDS = [
    ({"sku": BOOT, "size": "40", "kind": "forever"}, "an unknown kind"),
    ({"sku": BOOT, "size": "40"}, "no kind"),
    ({"sku": "boot", "size": "40", "kind": "collect"}, "not a SKU"),
    ({"sku": BOOT, "size": "", "kind": "collect"}, "an empty size"),
    ({"sku": BOOT, "size": "4\n0", "kind": "collect"}, "a size with a newline"),
    ({"sku": BOOT, "size": "40", "kind": "collect", "shopper": "a b"}, "not a shopper id"),
    ({"sku": BOOT, "size": "40", "kind": "collect", "hold_minutes": 0}, "no time at all"),
    ({"sku": BOOT, "size": "40", "kind": "collect", "hold_minutes": "20"}, "minutes as text"),
    ({"sku": BOOT, "size": "40", "kind": "collect", "hold_minutes": 20.5}, "a fraction of a minute"),
    ({"sku": BOOT, "size": "40", "kind": "collect", "hold_minutes": 10081}, "past a week"),
    ({"sku": BOOT, "size": "40", "kind": "collect", "state": "collected"}, "a state of its own"),
]


@pytest.mark.parametrize(("body", "why"), BAD_HOLDS, ids=[why for _, why in BAD_HOLDS])
def test_a_hold_that_does_not_fit_is_refused_and_holds_nothing(hq: Hq, body: object, why: str) -> None:
    _answer(hq.web.post(RESERVATIONS, json=body), 422, "invalid_request")
    assert hq.size("40")["held"] == 0


def test_a_hold_expires_on_its_own_and_frees_its_unit(hq: Hq) -> None:
    made = _answer(hq.hold(shopper=SHOPPER), 201)
    now = datetime.now(UTC)
    assert hq.store.reservations.expire_due(now) == 0  # not due yet
    assert hq.store.reservations.expire_due(now + timedelta(minutes=21)) == 1
    assert _answer(hq.web.get(f"{RESERVATIONS}/{made['id']}"), 200)["state"] == "expired"
    assert hq.size("41")["available"] == 1
    _answer(hq.madrid.post(f"{RESERVATIONS}/{made['id']}/collected"), 409, "reservation_closed")
    states = [c["state"] for c in _answer(hq.web.get("/v1/changes"), 200)["changes"] if c["kind"] == "reservation"]
    assert states == ["held", "expired"]
    # The sweeper of `kiosk hq serve` does it by itself: here with a clock a day ahead.
    again = _answer(hq.hold(), 201)
    sweeper = HoldSweeper(hq.store, interval_s=0.05, clock=lambda: datetime.now(UTC) + timedelta(days=1))
    sweeper.start()
    try:
        assert eventually(lambda: hq.store.reservations.get(STORE, again["id"]).state.value == "expired")  # type: ignore[union-attr]
    finally:
        sweeper.stop()
    assert hq.size("41")["held"] == 0 and sweeper.stats.expired >= 1


def test_an_overdue_hold_is_expired_by_the_next_hold_of_its_size(hq: Hq) -> None:
    first = _answer(hq.hold(), 201)
    hq.store.reservations.clock = lambda: datetime.now(UTC) + timedelta(minutes=30)
    second = _answer(hq.hold(), 201)  # the one unit: freed from the overdue hold in the same transaction
    assert hq.store.reservations.get(STORE, first["id"]).state.value == "expired"  # type: ignore[union-attr]
    _answer(hq.madrid.post(f"{RESERVATIONS}/{second['id']}/state", json={"state": "taken"}), 200)
    hq.store.reservations.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    _answer(hq.madrid.post(f"{RESERVATIONS}/{second['id']}/state", json={"state": "ready"}), 409,
            "reservation_expired")
    assert hq.size("41")["held"] == 0


def test_cancel_frees_the_unit_and_answers_a_retry_the_same(hq: Hq) -> None:
    made = _answer(hq.hold(shopper=SHOPPER), 201)
    cancelled = _answer(hq.web.delete(f"{RESERVATIONS}/{made['id']}"), 200)
    assert cancelled["state"] == "cancelled" and hq.size("41")["available"] == 1
    assert _answer(hq.web.delete(f"{RESERVATIONS}/{made['id']}"), 200) == cancelled
    _answer(hq.madrid.post(f"{RESERVATIONS}/{made['id']}/state", json={"state": "ready"}), 409,
            "reservation_closed")
    for missing in ("0" * 32, "not-an-id", "A" * 32, "0" * 33):
        _answer(hq.web.delete(f"{RESERVATIONS}/{missing}"), 404, "unknown_reservation")
        _answer(hq.web.get(f"{RESERVATIONS}/{missing}"), 404, "unknown_reservation")
    _answer(hq.web.get(f"/v1/stores/{OTHER}/reservations/{made['id']}"), 404, "unknown_reservation")


def test_staff_move_a_request_on_and_collected_it_is_an_order_of_the_shoppers(hq: Hq) -> None:
    first = _answer(hq.hold("40", shopper=SHOPPER, kind="collect"), 201)
    second = _answer(hq.hold("42"), 201)
    listed = _answer(hq.madrid.get(RESERVATIONS, params={"state": "open"}), 200)["reservations"]
    assert [r["id"] for r in listed] == [first["id"], second["id"]]  # oldest first
    url = f"{RESERVATIONS}/{first['id']}"
    taken = _answer(hq.madrid.post(f"{url}/state", json={"state": "taken"}), 200)
    assert (taken["state"], taken["channel"]) == ("taken", "web")  # still the web's reservation
    ready = _answer(hq.madrid.post(f"{url}/state", json={"state": "ready", "note": "counter 2"}), 200)
    assert (ready["state"], ready["note"]) == ("ready", "counter 2")
    assert _answer(hq.madrid.post(f"{url}/state", json={"state": "ready"}), 200)["state"] == "ready"  # pressed twice
    _answer(hq.madrid.post(f"{url}/state", json={"state": "taken"}), 409, "invalid_transition")
    for bad in ({"state": "collected"}, {"state": "held"}, {"state": "ready", "note": "x" * 101},
                {"state": "ready", "note": "a\x07b"}, {"state": "ready", "by": "me"}):
        _answer(hq.madrid.post(f"{url}/state", json=bad), 422, "invalid_request")
    _answer(hq.madrid.post(f"{url}/collected", json={"unit_price": "-1"}), 422, "invalid_request")
    for price in ("1.001", 70, "1e3", " 1.00", "NaN"):
        _answer(hq.madrid.post(f"{url}/collected", json={"unit_price": price}), 422, "invalid_request")
    done = _answer(hq.madrid.post(f"{url}/collected"), 200)
    assert (done["reservation"]["state"], done["order_id"], done["total"]) == (
        "collected", f"reservation-{first['id']}", "89.95")  # the catalog's price in the store
    assert _answer(hq.madrid.post(f"{url}/collected"), 200) == done  # a retry: the same answer
    assert hq.size("40") == {"sku": BOOT, "size": "40", "units": 4, "held": 0, "available": 4}
    orders = hq.store.orders.of(f"shopper:{SHOPPER}")
    assert [(o.order_id, o.store, o.channel, [(line.sku, line.size, line.quantity) for line in o.lines])
            for o in orders] == [(done["order_id"], STORE, "madrid-staff", [(BOOT, "40", 1)])]
    paid = _answer(hq.madrid.post(f"{RESERVATIONS}/{second['id']}/collected", json={"unit_price": "70.00"}), 200)
    assert paid["total"] == "70.00"
    assert _answer(hq.madrid.get(RESERVATIONS), 200)["reservations"] == []
    changes = _answer(hq.web.get("/v1/changes"), 200)["changes"]
    assert [(c["kind"], c.get("state"), c["channel"]) for c in changes] == [
        ("reservation", "held", "web"), ("reservation", "taken", "madrid-staff"),
        ("reservation", "ready", "madrid-staff"), ("order_placed", None, "kiosk:madrid-staff"),
        ("reservation", "collected", "madrid-staff")]
    assert {k: changes[0][k] for k in ("reservation", "sku", "size", "store")} == {
        "reservation": first["id"], "sku": BOOT, "size": "40", "store": STORE}


def test_the_profile_export_and_erase_carry_reservations(any_hq: Hq) -> None:
    hq = any_hq
    hq.web.put(f"/v1/shoppers/{SHOPPER}/display-name", json={"display_name": "Ana"}).raise_for_status()
    open_one = _answer(hq.hold("40", shopper=SHOPPER, kind="collect"), 201)
    closed = _answer(hq.hold("42", shopper=SHOPPER), 201)
    _answer(hq.web.delete(f"{RESERVATIONS}/{closed['id']}"), 200)
    profile = _answer(hq.web.get(f"/v1/shoppers/{SHOPPER}"), 200)
    assert [(r["id"], r["state"]) for r in profile["reservations"]] == [(open_one["id"], "held")]  # open ones
    exported = _answer(hq.web.get(f"/v1/shoppers/{SHOPPER}/export"), 200)
    assert [(r["reservation"], r["state"]) for r in exported["reservations"]] == [
        (closed["id"], "cancelled"), (open_one["id"], "held")]
    _answer(hq.web.delete(f"/v1/shoppers/{SHOPPER}"), 200)
    assert hq.store.reservations.of(f"shopper:{SHOPPER}") == []
    assert _answer(hq.web.get(f"{RESERVATIONS}/{open_one['id']}"), 200)["shopper"] is None  # the unit stays held
    _answer(hq.hold("40", shopper=SHOPPER), 410, "erased")


def test_a_store_key_acts_in_its_own_store_only(hq: Hq) -> None:
    made = _answer(hq.hold("40", client=hq.madrid), 201)
    assert made["channel"] == "madrid-staff"
    url = f"{RESERVATIONS}/{made['id']}"
    for answer in (hq.bcn.get(STOCK), hq.bcn.put(STOCK, json={"version": 1, "stock": {BOOT: {"40": 9}}}),
                   hq.hold("40", client=hq.bcn), hq.bcn.get(RESERVATIONS), hq.bcn.get(url), hq.bcn.delete(url),
                   hq.bcn.post(f"{url}/state", json={"state": "taken"}), hq.bcn.post(f"{url}/collected")):
        _answer(answer, 403, "other_store")
    assert hq.size("40") == {"sku": BOOT, "size": "40", "units": 5, "held": 1, "available": 4}
    _answer(hq.bcn.post(f"/v1/stores/{OTHER}/reservations", json={"sku": BOOT, "size": "39", "kind": "collect"}),
            201)  # its own store
    _answer(hq.madrid.delete(url), 200)


def test_a_store_key_reads_and_changes_no_shoppers_profile(hq: Hq) -> None:
    """A key taken from a store's back office: every shopper route refuses it, and each refusal is counted."""
    _answer(hq.web.put(f"/v1/shoppers/{SHOPPER}/wishlist/{BOOT}"), 200)
    shopper = f"/v1/shoppers/{SHOPPER}"
    attempts = [hq.madrid.get(shopper), hq.madrid.get(f"{shopper}/export"), hq.madrid.delete(shopper),
                hq.madrid.put(f"{shopper}/wishlist/{BOOT}"), hq.madrid.delete(f"{shopper}/wishlist/{BOOT}"),
                hq.madrid.put(f"{shopper}/display-name", json={"display_name": "Eve"}),
                hq.madrid.put(f"{shopper}/consent", json={"consent": "granted"}), hq.madrid.get("/v1/changes")]
    for answer in attempts:
        _answer(answer, 403, "store_key")
    assert hq.app.state.guard.stats.answers_refused["store_key"] == len(attempts)
    assert _answer(hq.web.get(shopper), 200)["wishlist"] == [BOOT]  # untouched, and still the web shop's to read
    assert hq.app.state.guard.stats.answers_refused["store_key"] == len(attempts)


def test_a_sku_the_catalog_does_not_know_is_collected_at_the_price_paid_and_flagged(hq: Hq) -> None:
    _answer(hq.madrid.put(STOCK, json={"version": 1, "stock": {"TILL-ONLY-1": {"U": 1}}}), 200)
    made = _answer(hq.web.post(RESERVATIONS, json={"sku": "TILL-ONLY-1", "size": "U", "kind": "collect"}), 201)
    url = f"{RESERVATIONS}/{made['id']}/collected"
    _answer(hq.madrid.post(url), 409, "price_unknown")
    done = _answer(hq.madrid.post(url, json={"unit_price": "12.50"}), 200)
    order = hq.store.orders.get(done["order_id"])
    assert order is not None and order.flagged == ["unknown_sku"] and str(order.total) == "12.50"
