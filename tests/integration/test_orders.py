"""Orders with real parts: HQ's API over a real socket (uvicorn) records each order once,
flags the lines HQ's catalog does not know, refuses every body that does not fit with its
code and counts it; the profile, the export, the change feed, its stream and the webhooks
carry orders, and an erase takes them off the shopper; on PostgreSQL, channels sending
one order at the same instant store it once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hq import ApiKeys, ApiServer, CatalogFile, Grant, KeyRole, ProfileStore, create_app
from hq._store import shopper_key
from kiosk_app.demo import demo_catalog, free_port
from kiosk_protocol import load_catalog
from testkit.event_stream import EventStream
from testkit.webhook_steps import delivering, receiving

KEYS = {"web": "web-key-0123456789abcdef", "pos": "pos-key-0123456789abcdef",
        "till-madrid": "till-key-0123456789abcdef"}
GRANTS = {"till-madrid": Grant(KeyRole.STORE, "madrid-centro")}
WEB, POS, TILL = ({"X-Api-Key": KEYS[name]} for name in ("web", "pos", "till-madrid"))
SHOPPER = "shopper-0042"
ORDERS = f"/v1/shoppers/{SHOPPER}/orders"
AT = "2026-11-30T17:05:00+00:00"


def order(order_id: str = "web-1001", **fields: Any) -> dict[str, Any]:
    body = {"order_id": order_id, "channel": "web", "store": "online", "at": AT,
            "lines": [{"sku": "BOOT-CHELSEA-BLK", "size": "40", "quantity": 1, "unit_price": "129.90"},
                      {"sku": "SNK-COURT-WHT", "size": "38", "quantity": 2, "unit_price": "59.5"}]}
    return {**body, **fields}


def line(**fields: Any) -> dict[str, Any]:
    return {"sku": "BOOT-CHELSEA-BLK", "size": "40", "quantity": 1, "unit_price": "10.00", **fields}


# Each body a channel might send that HQ refuses: (what is wrong, the body).
BAD_ORDERS: list[tuple[str, Any]] = [
    ("an order id with a space", order("web 1")),
    ("an order id with a non-ASCII letter", order("pedido-ñ")),
    ("an order id of 65 characters", order("x" * 65)),
    ("an empty order id", order("")),
    ("no lines", order(lines=[])),
    ("201 lines", order(lines=[line()] * 201)),
    ("a quantity of 0", order(lines=[line(quantity=0)])),
    ("a negative quantity", order(lines=[line(quantity=-1)])),
    ("a quantity given as text", order(lines=[line(quantity="2")])),
    ("a quantity given as true", order(lines=[line(quantity=True)])),
    ("a quantity of 1.5", order(lines=[line(quantity=1.5)])),
    ("a quantity of 10001", order(lines=[line(quantity=10_001)])),
    ("a negative unit price", order(lines=[line(unit_price="-0.01")])),
    ("a unit price of three decimal places", order(lines=[line(unit_price="1.005")])),
    ("a unit price of NaN", order(lines=[line(unit_price="NaN")])),
    ("a unit price given as a number", order(lines=[line(unit_price=59.5)])),
    ("a unit price of 1e2", order(lines=[line(unit_price="1e2")])),
    ("a unit price with a blank", order(lines=[line(unit_price=" 1.00")])),
    ("a unit price of Infinity", order(lines=[line(unit_price="Infinity")])),
    ("a unit price beyond 12 digits", order(lines=[line(unit_price="12345678901.00")])),
    ("a SKU in lower case", order(lines=[line(sku="boot-chelsea-blk")])),
    ("an empty size", order(lines=[line(size="")])),
    ("a size with a control character", order(lines=[line(size="4\n0")])),
    ("a size of 33 characters", order(lines=[line(size="4" * 33)])),
    ("a size with a C1 control character", order(lines=[line(size="\x85")])),
    ("a size with a space at its end", order(lines=[line(size="40 ")])),
    ("a line with an unknown field", order(lines=[line(discount="5")])),
    ("a store id in capitals", order(store="Madrid")),
    ("no store", {k: v for k, v in order().items() if k != "store"}),
    ("a channel with a space", order(channel="web shop")),
    ("a kiosk channel without its kiosk", order(channel="kiosk:")),
    ("a time without its UTC offset", order(at="2026-11-30T17:05:00")),
    ("a time that is no time", order(at="yesterday")),
    ("an unknown field", order(coupon="WINTER")),
    ("lines that are no list", order(lines={"sku": "BOOT-CHELSEA-BLK"})),
    ("a body that is no object", [order()]),
]


class Hq:
    """HQ's API on a real socket, over one profile store, checking lines against the demo catalog."""

    def __init__(self, store: ProfileStore, catalog: CatalogFile | None) -> None:
        self.store = store
        self.app = create_app(store, ApiKeys(KEYS, grants=GRANTS), catalog=catalog)
        self.server = ApiServer(self.app, port=free_port())
        self.server.start()
        self.web = httpx.Client(base_url=self.server.url, headers=WEB, timeout=30)
        self.pos = httpx.Client(base_url=self.server.url, headers=POS, timeout=30)
        self.till = httpx.Client(base_url=self.server.url, headers=TILL, timeout=30)

    def shopper_known(self) -> None:
        """The shopper's profile exists (they granted consent on the web shop)."""
        _answer(self.web.put(f"/v1/shoppers/{SHOPPER}/consent", json={"status": "granted"}), 200)

    def close(self) -> None:
        for client in (self.web, self.pos, self.till):
            client.close()
        self.server.stop()


def _hq(url: str, catalog: CatalogFile | None) -> Iterator[Hq]:
    store = ProfileStore(url)
    server = Hq(store, catalog)
    yield server
    server.close()
    store.close()


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    return demo_catalog(tmp_path, "http://testserver")


@pytest.fixture
def hq(sqlite_url: str, catalog_path: Path) -> Iterator[Hq]:
    yield from _hq(sqlite_url, CatalogFile(catalog_path))


@pytest.fixture
def pg_hq(postgres_url: str, catalog_path: Path) -> Iterator[Hq]:
    yield from _hq(postgres_url, CatalogFile(catalog_path))


def _answer(response: httpx.Response, status: int, error: str | None = None) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    if error is not None:
        assert body["error"] == error and body["detail"], body
    return body


def test_an_order_is_stored_once_and_a_retry_answers_what_is_stored(hq: Hq) -> None:
    hq.shopper_known()
    placed = _answer(hq.web.post(ORDERS, json=order()), 201)
    assert placed["order_id"] == "web-1001" and placed["shopper"] == SHOPPER and placed["recorded_by"] == "web"
    assert (placed["total"], placed["at"]) == ("248.90", "2026-11-30T17:05:00Z")
    assert [(ln["sku"], ln["quantity"], ln["unit_price"], ln["flag"]) for ln in placed["lines"]] == [
        ("BOOT-CHELSEA-BLK", 1, "129.90", None), ("SNK-COURT-WHT", 2, "59.50", None)]
    # The same order from another time zone, its prices written otherwise, is the same order.
    again = order(at="2026-11-30T18:05:00+01:00")
    again["lines"][1]["unit_price"] = "59.50"
    assert _answer(hq.web.post(ORDERS, json=again), 200) == placed
    other = order()
    other["lines"][0]["quantity"] = 2
    _answer(hq.web.post(ORDERS, json=other), 409, "order_conflict")
    _answer(hq.web.post("/v1/orders", json=order(at="2026-11-30T17:06:00Z")), 409, "order_conflict")
    stats = hq.app.state.orders
    assert (stats.placed, stats.retries, dict(stats.refused)) == (1, 1, {"order_conflict": 2})
    stored = hq.store.orders.get("web-1001")
    assert stored is not None and [ln.quantity for ln in stored.lines] == [1, 2]  # the first stands


def test_lines_the_catalog_does_not_know_are_stored_flagged_and_counted(hq: Hq) -> None:
    body = order(lines=[line(), line(sku="NO-SUCH-SKU"), line(size="47"), line(sku="NO-SUCH-SKU", size="M")])
    placed = _answer(hq.pos.post("/v1/orders", json=body), 201)
    assert [ln["flag"] for ln in placed["lines"]] == [None, "unknown_sku", "unknown_size", "unknown_sku"]
    assert placed["shopper"] is None and placed["total"] == "40.00"
    assert hq.store.orders.flagged_lines == {"unknown_sku": 2, "unknown_size": 1}
    _answer(hq.pos.post("/v1/orders", json=body), 200)  # a retry stores nothing, counts nothing
    assert hq.store.orders.flagged_lines == {"unknown_sku": 2, "unknown_size": 1}


def test_a_retry_after_the_catalog_changed_is_still_the_same_order(hq: Hq, catalog_path: Path) -> None:
    placed = _answer(hq.web.post("/v1/orders", json=order(lines=[line(sku="SNK-COURT-WHT", size="36")])), 201)
    assert placed["lines"][0]["flag"] is None
    catalog = load_catalog(catalog_path)
    document = json.loads(catalog_path.read_text())
    document["products"] = [p for p in document["products"] if p["sku"] != "SNK-COURT-WHT"]
    staged = catalog_path.with_suffix(".importing")
    staged.write_text(json.dumps(document))
    staged.replace(catalog_path)  # as `kiosk hq catalog import` replaces it
    assert len(load_catalog(catalog_path).products) == len(catalog.products) - 1
    assert _answer(hq.web.post("/v1/orders", json=order(lines=[line(sku="SNK-COURT-WHT", size="36")])),
                   200) == placed
    fresh = _answer(hq.web.post("/v1/orders", json=order("web-1002", lines=[line(sku="SNK-COURT-WHT")])), 201)
    assert fresh["lines"][0]["flag"] == "unknown_sku"  # the catalog as the file holds it now


def test_without_a_catalog_no_line_is_checked(sqlite_url: str) -> None:
    for hq in _hq(sqlite_url, None):
        placed = _answer(hq.web.post("/v1/orders", json=order(lines=[line(sku="NO-SUCH-SKU")])), 201)
        assert placed["lines"][0]["flag"] is None and hq.store.orders.flagged_lines == {}


def test_every_body_that_does_not_fit_is_refused_with_its_code_and_counted(hq: Hq) -> None:
    for wrong, body in BAD_ORDERS:
        for path in (ORDERS, "/v1/orders"):
            answer = _answer(hq.web.post(path, json=body), 422, "invalid_request")
            assert isinstance(answer["detail"], list) and answer["detail"], wrong
    not_json = hq.web.post(ORDERS, content=b'{"order_id": ', headers={"Content-Type": "application/json"})
    _answer(not_json, 422, "invalid_request")
    assert hq.app.state.orders.refused == {"invalid_request": 2 * len(BAD_ORDERS) + 1}
    assert hq.store.orders.get("web-1001") is None and hq.app.state.orders.placed == 0
    _answer(hq.web.post("/v1/shoppers/not%20a%20shopper/orders", json=order()), 422, "invalid_request")
    _answer(hq.web.get(ORDERS, params={"limit": 0}), 422, "invalid_request")
    _answer(httpx.post(f"{hq.server.url}{ORDERS}", json=order()), 401, "unauthorized")
    padded = json.dumps(order()).replace(", ", "," + " " * 10_000).encode()  # over 64 KiB, of blanks
    assert len(padded) > 64 * 1024
    for path in (ORDERS, "/v1/orders"):
        _answer(hq.web.post(path, content=padded, headers={"Content-Type": "application/json"}), 413,
                "body_too_large")
    assert hq.app.state.guard.stats.bodies_too_large == 2


def test_an_order_of_200_lines_of_the_longest_sku_and_size_is_taken(hq: Hq) -> None:
    longest = line(sku="X" * 32, size="y" * 32, quantity=10_000.0, unit_price="9999999999.99")  # 10000.0 is whole
    body = order(lines=[longest] * 200)
    assert len(json.dumps(body)) > 16 * 1024  # more than other routes take
    for path in (ORDERS, "/v1/orders"):
        placed = _answer(hq.web.post(path, json={**body, "order_id": f"big{len(path)}"}), 201)
        assert (len(placed["lines"]), placed["total"]) == (200, "19999999999980000.00")
        assert {ln["flag"] for ln in placed["lines"]} == {"unknown_sku"}


def test_a_store_key_records_orders_of_its_own_store_only(hq: Hq) -> None:
    mine = _answer(hq.till.post("/v1/orders", json=order("till-7", channel="till", store="madrid-centro")), 201)
    assert (mine["store"], mine["channel"], mine["recorded_by"]) == ("madrid-centro", "till", "till-madrid")
    _answer(hq.till.post(ORDERS, json=order("till-8", channel="till", store="lisboa-chiado")), 403, "other_store")
    _answer(hq.till.post("/v1/orders", json=order("till-9", channel="till")), 403, "other_store")  # online
    assert hq.app.state.orders.refused == {"other_store": 2}
    assert hq.store.orders.get("till-8") is None and hq.store.orders.get("till-9") is None


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_shopper_s_orders_are_listed_newest_first_and_in_the_profile_and_export(
        database: str, request: pytest.FixtureRequest) -> None:
    hq: Hq = request.getfixturevalue("hq" if database == "sqlite" else "pg_hq")
    hq.shopper_known()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(25):  # placed out of time order: the list goes by when they were bought
        at = start + timedelta(days=(n * 7) % 25)
        _answer(hq.web.post(ORDERS, json=order(f"web-{n}", at=at.isoformat())), 201)
    _answer(hq.web.post("/v1/orders", json=order("guest-1")), 201)  # nobody's: not theirs
    listed = _answer(hq.web.get(ORDERS), 200)["orders"]
    times = [o["at"] for o in listed]
    assert len(listed) == 25 and times == sorted(times, reverse=True)
    assert [o["order_id"] for o in _answer(hq.web.get(ORDERS, params={"limit": 3}), 200)["orders"]] == [
        o["order_id"] for o in listed[:3]]
    profile = _answer(hq.web.get(f"/v1/shoppers/{SHOPPER}"), 200)
    assert profile["orders"] == listed[:20]
    export = _answer(hq.web.get(f"/v1/shoppers/{SHOPPER}/export"), 200)
    assert export["orders"] == listed
    _answer(hq.web.get("/v1/shoppers/shopper-9999/orders"), 404, "unknown_shopper")


def test_an_order_for_a_shopper_the_web_shop_alone_knows_is_listed(hq: Hq) -> None:
    _answer(hq.web.post(ORDERS, json=order()), 201)
    assert [o["order_id"] for o in _answer(hq.web.get(ORDERS), 200)["orders"]] == ["web-1001"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_an_erase_takes_the_orders_off_the_shopper_and_refuses_new_ones(
        database: str, request: pytest.FixtureRequest) -> None:
    hq: Hq = request.getfixturevalue("hq" if database == "sqlite" else "pg_hq")
    hq.shopper_known()
    _answer(hq.web.post(ORDERS, json=order()), 201)
    _answer(hq.web.delete(f"/v1/shoppers/{SHOPPER}"), 200)
    _answer(hq.web.post(ORDERS, json=order("web-1002")), 410, "erased")
    _answer(hq.web.get(ORDERS), 410, "erased")
    kept = hq.store.orders.get("web-1001")
    assert kept is not None and kept.shopper is None  # the sale stays on the books, nobody's
    assert hq.store.orders.of(shopper_key(SHOPPER)) == [] and hq.store.export(SHOPPER)["orders"] == []
    assert hq.app.state.orders.refused == {"erased": 2}


def test_orders_reach_the_change_feed_its_stream_and_the_webhooks(hq: Hq) -> None:
    with receiving(hq.store, "app") as app_hook, delivering(hq.store):
        stream = EventStream(hq.server.url, WEB)
        try:
            _answer(hq.web.post(ORDERS, json=order()), 201)
            _answer(hq.web.post(ORDERS, json=order()), 200)  # a retry is no change
            _answer(hq.web.post("/v1/orders", json=order("guest-1")), 201)  # nobody's: no change
            _answer(hq.pos.post(ORDERS, json=order("till-1", channel="till", store="madrid-centro")), 201)
            streamed = [stream.next_change(), stream.next_change()]
        finally:
            stream.close()
        expected = [("order_placed", "web-1001", 2, "248.90", "web", "online"),
                    ("order_placed", "till-1", 2, "248.90", "till", "madrid-centro")]
        assert [(c["kind"], c["order"], c["lines"], c["total"], c["kiosk"], c["store"]) for c in streamed] == expected
        paged = _answer(hq.web.get("/v1/changes"), 200)["changes"]
        kinds = [c["kind"] for c in paged]
        assert kinds.count("order_placed") == 2 and [c for c in paged if c["kind"] == "order_placed"] == streamed
        assert app_hook.wait_for(lambda: len([c for c in app_hook.delivered() if c["kind"] == "order_placed"]) == 2)
        assert [c for c in app_hook.delivered() if c["kind"] == "order_placed"] == streamed


def _at_once(clients: list[httpx.Client], bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """Each client posts its body, all released at the same instant."""
    start = threading.Barrier(len(clients))
    answers: list[httpx.Response | None] = [None] * len(clients)

    def post(n: int) -> None:
        start.wait()
        answers[n] = clients[n].post(ORDERS, json=bodies[n])

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answer in answers if answer is not None]


def _clients(hq: Hq, n: int) -> list[httpx.Client]:
    return [httpx.Client(base_url=hq.server.url, headers=WEB if k % 2 else POS, timeout=60) for k in range(n)]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_ten_channels_sending_one_order_at_once_store_it_once(
        database: str, request: pytest.FixtureRequest) -> None:
    hq: Hq = request.getfixturevalue("hq" if database == "sqlite" else "pg_hq")
    hq.shopper_known()
    clients = _clients(hq, 10)
    try:
        answers = _at_once(clients, [order()] * 10)
    finally:
        for client in clients:
            client.close()
    assert sorted(answer.status_code for answer in answers) == [200] * 9 + [201], [a.text for a in answers]
    assert len({json.dumps({**a.json(), "recorded_by": ""}, sort_keys=True) for a in answers}) == 1
    placed = [c for c in hq.store.changes.page(0, 100) if c.kind == "order_placed"]
    assert len(placed) == 1 and len(hq.store.orders.of(shopper_key(SHOPPER))) == 1


def test_on_postgresql_one_id_sent_with_ten_contents_at_once_keeps_one(pg_hq: Hq) -> None:
    clients = _clients(pg_hq, 10)
    try:
        answers = _at_once(clients, [order(lines=[line(quantity=n + 1)]) for n in range(10)])
    finally:
        for client in clients:
            client.close()
    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 9
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"order_conflict"}
    won = next(a.json() for a in answers if a.status_code == 201)
    stored = pg_hq.store.orders.get("web-1001")
    assert stored is not None and stored.lines[0].quantity == won["lines"][0]["quantity"]
    assert pg_hq.app.state.orders.refused == {"order_conflict": 9}

