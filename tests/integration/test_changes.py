"""The change feed: every change to a profile, from the HTTP API over a real socket and from
a kiosk over a real Mosquitto, in one order on SQLite and PostgreSQL; what is not a change
(duplicates, anonymous views, changes that lose their merge) stays out, an erase takes the
shopper's earlier changes with it, and concurrent writers on PostgreSQL never let a paging
reader skip one."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ApiKeys, ApiServer, IngestWorker, ProfileStore, create_app
from kiosk_app.demo import free_port
from kiosk_protocol import (
    ConsentStatus,
    EventKind,
    Hlc,
    Role,
    TapEvent,
    encode_event,
    events_topic,
    issue_token,
    new_event,
    wall_clock_ms,
)
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KEYS = {"web": "web-key-0123456789abcdef", "app": "app-key-0123456789abcdef"}
WEB, APP = {"X-Api-Key": KEYS["web"]}, {"X-Api-Key": KEYS["app"]}
SHOPPER, OTHER = "shopper-0042", "shopper-0077"
STORE, KIOSK = "madrid-centro", "kiosk-01"
SHOPPER_PATH = f"/v1/shoppers/{SHOPPER}"

# Hostile or wrong feed requests: (path, headers, where the 422 says the problem is)
REFUSED = [
    ("/v1/changes?after=-1", {}, "query.after"),
    (f"/v1/changes?after={10**30}", {}, "query.after"),
    (f"/v1/changes?after={'9' * 5000}", {}, "query.after"),
    ("/v1/changes?after=abc", {}, "query.after"),
    ("/v1/changes?after=1.5", {}, "query.after"),
    ("/v1/changes?limit=0", {}, "query.limit"),
    ("/v1/changes?cursor=5", {}, "query.cursor"),
    ("/v1/changes?limit=1001", {}, "query.limit"),
    (f"/v1/changes?limit={10**9}", {}, "query.limit"),
    ("/v1/changes/stream?after=-5", {}, "query.after"),
    ("/v1/changes/stream", {"Last-Event-ID": "abc"}, "header.last-event-id"),
    ("/v1/changes/stream", {"Last-Event-ID": "-1"}, "header.last-event-id"),
    ("/v1/changes/stream", {"Last-Event-ID": str(2**63)}, "header.last-event-id"),
]


class Hq:
    """HQ's API on a real socket over one profile store."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self.server = ApiServer(create_app(store, ApiKeys(KEYS)), port=free_port())
        self.server.start()
        self.web = httpx.Client(base_url=self.server.url, headers=WEB, timeout=20)
        self.app = httpx.Client(base_url=self.server.url, headers=APP, timeout=20)

    def feed(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        answer = self.web.get("/v1/changes", params={"after": after, "limit": limit})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["changes"])

    def close(self) -> None:
        self.web.close()
        self.app.close()
        self.server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[ProfileStore]:
    profile_store = ProfileStore(request.getfixturevalue("sqlite_url" if request.param == "sqlite"
                                                        else "postgres_url"))
    yield profile_store
    profile_store.close()


@pytest.fixture
def hq(store: ProfileStore) -> Iterator[Hq]:
    server = Hq(store)
    yield server
    server.close()


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _without_times(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for change in changes:
        assert change.pop("at")
    return changes


def _event(kind: EventKind, shopper: str | None, seq: int = 1, session: uuid.UUID | None = None,
           **details: object) -> TapEvent:
    return new_event(kind=kind, store=STORE, kiosk=KIOSK, seq=seq, session=session or uuid.uuid4(), shopper=shopper,
                     **details)


def _hlc(wall_ms: int, node: str = KIOSK) -> str:
    return str(Hlc(wall_ms, 0, node))


def test_every_kind_of_change_from_the_api_is_in_the_feed_in_order_and_an_erase_ends_it(hq: Hq) -> None:
    consent = _ok(hq.web.put(f"{SHOPPER_PATH}/consent", json={"status": "granted"}))["hlc"]
    _ok(hq.web.post(f"{SHOPPER_PATH}/views", json={"sku": "BOOT-1"}))
    added = _ok(hq.app.put(f"{SHOPPER_PATH}/wishlist/BOOT-1"))["hlc"]
    removed = _ok(hq.web.delete(f"{SHOPPER_PATH}/wishlist/BOOT-1"))["hlc"]
    size = _ok(hq.app.put(f"{SHOPPER_PATH}/preferences/size", json={"value": "42"}))["hlc"]
    named = _ok(hq.web.put(f"{SHOPPER_PATH}/display-name", json={"display_name": "Ana María"}))
    _ok(hq.web.put(f"/v1/shoppers/{OTHER}/consent", json={"status": "denied"}))
    assert named["display_name"] == "Ana María"
    assert _ok(hq.web.get(SHOPPER_PATH))["display_name"] == "Ana María"
    assert _ok(hq.web.get(f"{SHOPPER_PATH}/export"))["display_name"] == "Ana María"

    feed = hq.feed()
    cursors = [change.pop("cursor") for change in feed]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    web, app = {"channel": "web", "store": "online", "kiosk": "web"}, {"channel": "app", "store": "online",
                                                                      "kiosk": "app"}
    assert _without_times(feed) == [
        {"shopper": SHOPPER, "kind": "consent", **web, "consent": "granted", "hlc": consent},
        {"shopper": SHOPPER, "kind": "product_view", **web, "sku": "BOOT-1"},
        {"shopper": SHOPPER, "kind": "wishlist_add", **app, "sku": "BOOT-1", "hlc": added},
        {"shopper": SHOPPER, "kind": "wishlist_remove", **web, "sku": "BOOT-1", "hlc": removed},
        {"shopper": SHOPPER, "kind": "preference", **app, "key": "size", "value": "42", "hlc": size},
        {"shopper": SHOPPER, "kind": "display_name", **web, "display_name": "Ana María", "hlc": named["hlc"]},
        {"shopper": OTHER, "kind": "consent", **web, "consent": "denied", "hlc": feed[-1]["hlc"]},
    ]

    assert _ok(hq.app.delete(SHOPPER_PATH))["erased_events"] == 6
    after_erase = hq.feed()
    assert [(c["shopper"], c["kind"]) for c in after_erase] == [(OTHER, "consent"), (SHOPPER, "erase")]
    erase = after_erase[-1]
    assert erase["cursor"] > max(cursors)
    assert set(erase) == {"cursor", "shopper", "kind", "channel", "store", "kiosk", "at"}
    assert (erase["channel"], erase["store"], erase["kiosk"]) == ("app", "online", "app")
    assert hq.app.delete(SHOPPER_PATH).status_code == 200  # repeated: the kiosks are told again
    assert hq.feed() == after_erase  # but nothing changed, so the feed says nothing more


def test_pages_follow_one_another_by_cursor(hq: Hq) -> None:
    for n in range(7):
        _ok(hq.web.put(f"{SHOPPER_PATH}/preferences/size", json={"value": str(40 + n)}))
    seen, after = [], 0
    while True:
        page = _ok(hq.web.get("/v1/changes", params={"after": after, "limit": 3}))
        assert len(page["changes"]) <= 3
        seen += [change["value"] for change in page["changes"]]
        if not page["changes"]:
            assert page["next"] == after  # nothing more: ask after the same cursor again
            break
        assert page["next"] == page["changes"][-1]["cursor"]
        after = page["next"]
    assert seen == [str(40 + n) for n in range(7)]
    assert _ok(hq.web.get("/v1/changes", params={"after": 10**12}))["next"] == 10**12
    assert len(_ok(hq.web.get("/v1/changes"))["changes"]) == 7  # after 0, up to 100 by default


def test_the_feed_lists_only_what_changed_a_profile(store: ProfileStore) -> None:
    view = _event(EventKind.PRODUCT_VIEW, SHOPPER, sku="BOOT-1")
    browsing = uuid.uuid4()
    store.record_many([view, view, _event(EventKind.PRODUCT_VIEW, None, session=browsing, sku="BAG-2")])
    store.record(view)  # redelivered: a duplicate
    store.record_many([
        _event(EventKind.WISHLIST_ADD, SHOPPER, sku="COAT-3", hlc=_hlc(100)),
        _event(EventKind.WISHLIST_ADD, SHOPPER, sku="COAT-3", hlc=_hlc(50)),  # older than the add HQ holds
        _event(EventKind.WISHLIST_REMOVE, SHOPPER, sku="COAT-3", hlc=_hlc(80)),  # older than that add
        _event(EventKind.PREFERENCE, SHOPPER, key="size", value="42", hlc=_hlc(900)),
        _event(EventKind.PREFERENCE, SHOPPER, key="size", value="41", hlc=_hlc(800)),  # loses to 900
        _event(EventKind.DISPLAY_NAME, SHOPPER, display_name="Ana", hlc=_hlc(300)),
        _event(EventKind.DISPLAY_NAME, SHOPPER, display_name="Old", hlc=_hlc(200)),  # loses to Ana
        _event(EventKind.CONSENT, SHOPPER, consent=ConsentStatus.DENIED, hlc=_hlc(500)),
        _event(EventKind.CONSENT, SHOPPER, consent=ConsentStatus.GRANTED, hlc=_hlc(400)),  # older: not in force
    ])
    assert store.profile(SHOPPER).consent is ConsentStatus.DENIED and store.profile(SHOPPER).display_name == "Ana"
    store.record(_event(EventKind.CONSENT, SHOPPER, session=browsing, consent=ConsentStatus.GRANTED, hlc=_hlc(600)))
    store.record(_event(EventKind.PRODUCT_VIEW, None, session=browsing, sku="HAT-4"))  # the session is theirs now

    feed = store.changes.page(0, 1000)
    assert [(c.kind, dict(c.fields)) for c in feed] == [
        ("product_view", {"sku": "BOOT-1"}),
        ("wishlist_add", {"sku": "COAT-3", "hlc": _hlc(100)}),
        ("preference", {"key": "size", "value": "42", "hlc": _hlc(900)}),
        ("display_name", {"display_name": "Ana", "hlc": _hlc(300)}),
        ("consent", {"consent": "denied", "hlc": _hlc(500)}),
        ("product_view", {"sku": "BAG-2"}),  # browsed before the grant, joined the profile with it
        ("consent", {"consent": "granted", "hlc": _hlc(600)}),
        ("product_view", {"sku": "HAT-4"}),
    ]
    assert {(c.shopper, c.channel, c.store, c.kiosk) for c in feed} == {(SHOPPER, f"kiosk:{KIOSK}", STORE, KIOSK)}
    assert store.changes.latest() == feed[-1].cursor


class KioskPublisher:
    """A kiosk's own MQTT connection, publishing events on its topic (QoS 1)."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{STORE}.{KIOSK}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, *events: TapEvent) -> None:
        for event in events:
            self.client.publish(events_topic(STORE, KIOSK), encode_event(event), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_kiosk_s_changes_over_mqtt_are_in_the_feed_with_its_store_and_kiosk(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    card = issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)
    visit, now = uuid.uuid4(), wall_clock_ms()

    def signed_in(kind: EventKind, seq: int, **details: object) -> TapEvent:
        return _event(kind, SHOPPER, seq, session=visit, card=card, **details)

    events = [
        _event(EventKind.PRODUCT_VIEW, None, 1, sku="BAG-2"),  # someone browsing: not in the feed
        signed_in(EventKind.CONSENT, 2, consent=ConsentStatus.GRANTED, hlc=_hlc(now)),
        signed_in(EventKind.PRODUCT_VIEW, 3, sku="BOOT-1"),
        signed_in(EventKind.WISHLIST_ADD, 4, sku="BOOT-1", hlc=_hlc(now + 1)),
        signed_in(EventKind.WISHLIST_REMOVE, 5, sku="BOOT-1", hlc=_hlc(now + 2)),
        signed_in(EventKind.PREFERENCE, 6, key="size", value="42", hlc=_hlc(now + 3)),
        signed_in(EventKind.DISPLAY_NAME, 7, display_name="Ana", hlc=_hlc(now + 4)),
    ]
    kiosk = KioskPublisher(mosquitto.port)
    hq = Hq(hq_ingest.store)
    try:
        kiosk.publish(*events, events[2])  # the view sent twice: stored once
        assert eventually(lambda: hq_ingest.stats.stored + hq_ingest.stats.duplicates == 8)
        assert hq_ingest.stats.stored == 7
        feed = hq.feed()
        assert [(c["kind"], c["shopper"], c["channel"], c["store"], c["kiosk"]) for c in feed] == [
            (e.kind.value, SHOPPER, f"kiosk:{KIOSK}", STORE, KIOSK) for e in events[1:]]
        assert [c.get("sku") or c.get("consent") or c.get("value") or c.get("display_name") for c in feed] == [
            "granted", "BOOT-1", "BOOT-1", "BOOT-1", "42", "Ana"]
        assert [c.get("hlc") for c in feed] == [e.hlc for e in events[1:]]
        assert _ok(hq.web.get(SHOPPER_PATH))["display_name"] == "Ana"
    finally:
        hq.close()
        kiosk.close()


@pytest.mark.parametrize(("path", "headers", "where"), REFUSED)
def test_hostile_feed_requests_get_a_clear_422(sqlite_url: str, path: str, headers: dict[str, str],
                                               where: str) -> None:
    hq = Hq(ProfileStore(sqlite_url))
    try:
        answer = hq.web.get(path, headers=headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_request"
        assert where in [problem["where"] for problem in answer.json()["detail"]]
    finally:
        hq.close()
        hq.store.close()


@pytest.mark.parametrize("path", ["/v1/changes", "/v1/changes/stream"])
@pytest.mark.parametrize("key", [None, "not-a-key-0123456789abcdef"])
def test_the_feed_needs_a_channel_key(sqlite_url: str, path: str, key: str | None) -> None:
    hq = Hq(ProfileStore(sqlite_url))
    try:
        answer = httpx.get(hq.server.url + path, headers={"X-Api-Key": key} if key else {}, timeout=20)
        assert (answer.status_code, answer.json()["error"]) == (401, "unauthorized")
    finally:
        hq.close()
        hq.store.close()


def test_concurrent_writers_on_postgresql_never_let_a_paging_reader_skip_a_change(postgres_url: str) -> None:
    writers, per_writer = 4, 200
    reader_store = ProfileStore(postgres_url)
    problems: list[BaseException] = []

    def write(n: int) -> None:
        store, rng = ProfileStore(postgres_url), random.Random(n)
        try:
            written = 0
            while written < per_writer:  # transactions of 1 to 4 changes, as ingest batches come
                size = min(rng.randint(1, 4), per_writer - written)
                store.record_many([_event(EventKind.PRODUCT_VIEW, f"writer-{n}", sku=f"SKU-{written + i}")
                                   for i in range(size)])
                written += size
        except BaseException as exc:  # reported by the test below
            problems.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[int] = []
    skus: dict[str, list[int]] = {}
    after = 0
    try:
        while True:
            all_written = not any(thread.is_alive() for thread in threads)  # so committed before this read
            page = reader_store.changes.page(after, 37)
            for change in page:
                seen.append(change.cursor)
                skus.setdefault(change.shopper, []).append(int(change.fields["sku"].removeprefix("SKU-")))
            if page:
                after = page[-1].cursor
            elif all_written:
                break
        everything = [change.cursor for change in reader_store.changes.page(0, 1000)]
    finally:
        for thread in threads:
            thread.join(60)
        reader_store.close()
    assert problems == []
    assert len(everything) == writers * per_writer
    assert seen == everything  # each cursor once, in order, none skipped
    assert skus == {f"writer-{n}": list(range(per_writer)) for n in range(writers)}
