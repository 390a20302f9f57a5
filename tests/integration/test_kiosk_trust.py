"""HQ takes neither a kiosk's clock nor its word on whose profile it changes: a kiosk
publishing on its own topic of a real Mosquitto, a real ingest worker and SQLite, and
the HTTP API over the same database afterwards (issue 13, findings 1 and 6)."""

from __future__ import annotations

import pickle
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from backend_sync import BrokerUrl, KioskLink, Outbox
from backend_sync._mqtt import connect_async, new_client
from hq import ApiKeys, ApiServer, BrokerSecurity, IngestWorker, ProfileStore, create_app
from kiosk_app import Kiosk
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import (
    CardRefused,
    ConsentStatus,
    EventKind,
    Hlc,
    Role,
    TapEvent,
    encode_event,
    issue_token,
    kiosk_topics,
    load_catalog,
    new_event,
)
from kiosk_protocol._cards import card_verifier
from kiosk_protocol.contract import decode_receipt
from kiosk_protocol.hlc import MAX_AHEAD_MS, wall_clock_ms
from nfc_reader import TagKind, TagRead
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE, KIOSK = "madrid-centro", "kiosk-01"
VICTIM, OTHER = "shopper-0042", "shopper-0077"
KEYS = {"web": "web-key-0123456789abcdef"}
WEB = {"X-Api-Key": KEYS["web"]}
SKU = load_catalog(demo_catalog_path()).products[0].sku
YEAR_2100_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)


class KioskClient:
    """A kiosk's own MQTT client: publishes whatever it likes on its events topic, collects its receipts."""

    def __init__(self, broker_url: str, kiosk: str = KIOSK) -> None:
        self.topics = kiosk_topics(STORE, kiosk)
        self.receipted: set[int] = set()
        self._awaited: set[int] = set()
        self._all_receipted = threading.Event()
        self._lock = threading.Lock()
        subscribed = threading.Event()
        broker = BrokerUrl.parse(broker_url)
        self.client = new_client(broker, f"{STORE}.{kiosk}")
        self.client.on_message = self._on_receipt
        self.client.on_connect = lambda client, *_: client.subscribe(self.topics.receipts, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        connect_async(self.client, broker)
        self.client.loop_start()
        assert subscribed.wait(10)

    def publish(self, *events: TapEvent) -> None:
        for event in events:
            self.client.publish(self.topics.events, encode_event(event), qos=1).wait_for_publish(5)

    def wait_for_receipts(self, seqs: set[int], timeout_s: float = 20) -> bool:
        with self._lock:
            self._awaited = seqs
            if seqs <= self.receipted:
                return True
            self._all_receipted.clear()
        return self._all_receipted.wait(timeout_s)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def _on_receipt(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.receipted |= set(decode_receipt(message.payload).seqs)
            if self._awaited <= self.receipted:
                self._all_receipted.set()


@pytest.fixture
def kiosk_client(mosquitto: Mosquitto) -> Iterator[KioskClient]:
    client = KioskClient(mosquitto.url)
    yield client
    client.close()


def _event(kind: EventKind, seq: int, shopper: str | None, kiosk: str = KIOSK, session: uuid.UUID | None = None,
           **details: object) -> TapEvent:
    return new_event(kind=kind, store=STORE, kiosk=kiosk, seq=seq, session=session or uuid.uuid4(), shopper=shopper,
                     **details)


def _now(ahead_ms: int = 0, kiosk: str = KIOSK) -> str:
    return str(Hlc(wall_clock_ms() + ahead_ms, 0, kiosk))


def test_a_poisoned_hlc_is_refused_receipted_and_every_shopper_s_changes_still_work(
        hq_ingest: IngestWorker, kiosk_client: KioskClient, hq_key: tuple[Ed25519PrivateKey, Path],
        sqlite_url: str) -> None:
    card = issue_token(hq_key[0], VICTIM, Role.SHOPPER, 600)  # the kiosk did read the victim's card once
    visit = uuid.uuid4()
    poisoned = [
        _event(EventKind.WISHLIST_ADD, 1, VICTIM, session=visit, sku=SKU, card=card,
               hlc=f"999999999999999-999999-{KIOSK}"),
        _event(EventKind.WISHLIST_ADD, 2, VICTIM, session=visit, sku=SKU, card=card,
               hlc=str(Hlc(YEAR_2100_MS, 0, KIOSK))),  # a kiosk whose clock says 2100
    ]
    fast = _event(EventKind.CONSENT, 3, VICTIM, session=visit, card=card, consent=ConsentStatus.GRANTED,
                  hlc=_now(ahead_ms=300_000))  # five minutes fast: within the skew HQ tolerates
    kiosk_client.publish(*poisoned, fast)

    assert kiosk_client.wait_for_receipts({1, 2, 3})  # refused ones too: the kiosk need not send them again
    assert (hq_ingest.stats.refused_clock_ahead, hq_ingest.stats.stored) == (2, 1)
    assert not any(hq_ingest.store.has_event(str(e.event_id)) for e in poisoned)
    assert hq_ingest.store.newest_hlc(VICTIM) == fast.hlc

    for store in (hq_ingest.store, ProfileStore(sqlite_url)):  # and after HQ restarts over the same database
        server = ApiServer(create_app(store, ApiKeys(KEYS)), port=free_port())
        server.start()
        try:
            for shopper in (VICTIM, OTHER):
                wishlist_url = f"{server.url}/v1/shoppers/{shopper}/wishlist/{SKU}"
                added = requests.put(wishlist_url, headers=WEB, timeout=10)
                assert added.status_code == 200, added.json()
                assert added.json()["wishlist"] == [SKU]
                removed = requests.delete(wishlist_url, headers=WEB, timeout=10)
                assert removed.status_code == 200, removed.json()
                assert removed.json()["wishlist"] == []
                stamp = Hlc.parse(removed.json()["hlc"])
                if shopper == OTHER:  # the victim's fast kiosk did not drag another shopper's stamps
                    assert stamp.wall_ms < wall_clock_ms() + 60_000
                else:  # the victim's own change is ordered after their newest one
                    assert stamp > Hlc.parse(fast.hlc or "")
                    assert stamp.wall_ms <= wall_clock_ms() + MAX_AHEAD_MS
        finally:
            server.stop()
            if store is not hq_ingest.store:
                store.close()


def test_a_kiosk_cannot_change_the_profile_of_a_shopper_whose_card_it_did_not_read(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, kiosk_client: KioskClient,
        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    others_card = issue_token(hq_key[0], OTHER, Role.SHOPPER, 600)
    elsewhere = uuid.uuid4()  # a visit of OTHER's at kiosk-02, proven by their card there
    kiosk_02 = KioskClient(mosquitto.url, "kiosk-02")
    try:
        kiosk_02.publish(_event(EventKind.CONSENT, 1, OTHER, kiosk="kiosk-02", session=elsewhere, card=others_card,
                                consent=ConsentStatus.GRANTED, hlc=_now(kiosk="kiosk-02")))
        assert kiosk_02.wait_for_receipts({1})
    finally:
        kiosk_02.close()
    attempts = [
        _event(EventKind.CONSENT, 1, VICTIM, consent=ConsentStatus.GRANTED, hlc=_now()),  # no card at all
        _event(EventKind.PREFERENCE, 2, VICTIM, key="shoe_size", value="46", hlc=_now(),
               card=issue_token(Ed25519PrivateKey.generate(), VICTIM, Role.SHOPPER, 600)),  # a forged card
        _event(EventKind.WISHLIST_ADD, 3, VICTIM, sku=SKU, hlc=_now(), card=others_card),  # another shopper's card
        _event(EventKind.CONSENT, 4, VICTIM, consent=ConsentStatus.GRANTED, hlc=_now(), v=1),  # version 1
        _event(EventKind.PREFERENCE, 5, OTHER, session=elsewhere, key="shoe_size", value="46", hlc=_now(),
               card=others_card),  # OTHER's visit at another kiosk, with the card this kiosk once read
        _event(EventKind.CONSENT, 6, VICTIM, consent=ConsentStatus.GRANTED, hlc=_now(),
               card=issue_token(hq_key[0], VICTIM, Role.SHOPPER, -60)),  # a card expired before it was read
    ]
    anonymous = _event(EventKind.PRODUCT_VIEW, 7, None, sku=SKU, v=1)  # a kiosk not upgraded yet
    kiosk_client.publish(*attempts, anonymous)

    assert kiosk_client.wait_for_receipts({1, 2, 3, 4, 5, 6, 7})
    stats = hq_ingest.stats
    assert (stats.refused_no_card_proof, stats.stored, stats.rejected) == (6, 2, 0)
    store = hq_ingest.store
    assert not any(store.has_event(str(e.event_id)) for e in attempts)
    assert store.has_event(str(anonymous.event_id))
    assert not store.has_profile(VICTIM)
    other = store.export(OTHER)
    assert other["preferences"] == {} and other["wishlist"] == []
    assert [c["channel"] for c in other["consent_log"]] == ["kiosk:kiosk-02"]


def test_a_visit_proven_by_its_card_is_stored_and_its_later_events_need_only_the_stored_proof(
        mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], sqlite_url: str, tmp_path: Path) -> None:
    verify = card_verifier(hq_key[0].public_key())
    store = ProfileStore(sqlite_url)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    kiosk = Kiosk(load_catalog(demo_catalog_path()), outbox, STORE, KIOSK, verify_card=verify)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    first = IngestWorker(mosquitto.url, store, worker_id="hq-ingest-a", verify_card=verify)
    second = IngestWorker(mosquitto.url, store, worker_id="hq-ingest-b")  # holds no key: cannot check a card
    running = [first]
    try:
        first.start()
        assert first.subscribed.wait(10)
        link.start()
        kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(hq_key[0], VICTIM, Role.SHOPPER, 600)))
        kiosk.consent(True)
        kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=SKU))
        assert eventually(lambda: len(outbox) == 0)  # receipted: stored or refused
        assert (first.stats.stored, first.stats.refused_no_card_proof) == (3, 0)
        assert store.profile(VICTIM).consent is ConsentStatus.GRANTED
        assert [(e.kind, e.sku) for e in store.profile(VICTIM).history] == [
            ("visit_start", None), ("consent", None), ("product_view", SKU)]  # the visit from its start
        running.remove(first)
        first.stop()

        running.append(second)
        second.start()  # HQ restarted: only the stored proof of the visit can admit its later events
        assert second.subscribed.wait(10)
        assert kiosk.set_wishlist(SKU, True)
        assert eventually(lambda: len(outbox) == 0)
        assert (second.stats.stored, second.stats.refused_no_card_proof) == (1, 0)
        assert store.profile(VICTIM).wishlist == [SKU]
        [visit] = store.export(VICTIM)["card_visits"]  # the proof is the shopper's data too: exported, erased
        assert (visit["session"], visit["kiosk"]) == (str(kiosk.session.id), KIOSK)
        store.erase(VICTIM)
        assert store.card_visits({str(kiosk.session.id)}) == {}
    finally:
        link.stop()
        for worker in running:
            worker.stop()
        store.close()


def test_a_visit_that_waited_in_an_offline_kiosk_past_its_card_s_expiry_is_still_taken(
        hq_ingest: IngestWorker, kiosk_client: KioskClient, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    card = issue_token(hq_key[0], VICTIM, Role.SHOPPER, -60)  # valid when read, expired a minute ago
    read_at = datetime.fromtimestamp(time.time() - 120, UTC)
    consent = _event(EventKind.CONSENT, 1, VICTIM, card=card, consent=ConsentStatus.GRANTED,
                     hlc=_now()).model_copy(update={"at": read_at})
    kiosk_client.publish(consent)
    assert kiosk_client.wait_for_receipts({1})
    assert (hq_ingest.stats.stored, hq_ingest.stats.refused_no_card_proof) == (1, 0)
    assert hq_ingest.store.profile(VICTIM).consent is ConsentStatus.GRANTED


def test_hq_s_card_check_travels_to_ingest_worker_processes(hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    check = pickle.loads(pickle.dumps(card_verifier(hq_key[0].public_key())))  # as IngestCluster hands it over
    assert check(issue_token(hq_key[0], VICTIM, Role.SHOPPER, 60)) == VICTIM
    with pytest.raises(CardRefused, match="signature"):
        check(issue_token(Ed25519PrivateKey.generate(), VICTIM, Role.SHOPPER, 60))


def test_a_provisioned_kiosk_can_publish_on_its_own_topic_but_hq_refuses_its_poison_and_its_claims(
        tmp_path: Path, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    # The broker's ACL lets a kiosk's credential publish anything on its own topic: HQ is
    # the one that must refuse (TLS, per-client passwords and ACL as `kiosk hq provision-*` make them).
    security = BrokerSecurity(tmp_path / "broker-security")
    security.init("Madrid Centro", ["127.0.0.1", "localhost"])
    hq_account, kiosk_account = security.provision_service("hq-ingest"), security.provision_kiosk(STORE, KIOSK)
    broker = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    broker.start()
    hq = IngestWorker(hq_account.broker_url("127.0.0.1", broker.port, security.ca_cert), ProfileStore(sqlite_url),
                      worker_id="hq-ingest", verify_card=card_verifier(hq_key[0].public_key()))
    kiosk: KioskClient | None = None
    try:
        hq.start()
        assert hq.subscribed.wait(10)
        kiosk = KioskClient(kiosk_account.broker_url("127.0.0.1", broker.port, security.ca_cert))
        kiosk.publish(
            _event(EventKind.WISHLIST_ADD, 1, VICTIM, sku=SKU, hlc=f"999999999999999-999999-{KIOSK}",
                   card=issue_token(hq_key[0], VICTIM, Role.SHOPPER, 600)),
            _event(EventKind.CONSENT, 2, VICTIM, consent=ConsentStatus.GRANTED, hlc=_now()),
        )
        assert kiosk.wait_for_receipts({1, 2})
        assert (hq.stats.refused_clock_ahead, hq.stats.refused_no_card_proof, hq.stats.stored) == (1, 1, 0)
        assert not hq.store.has_profile(VICTIM)
    finally:
        if kiosk is not None:
            kiosk.close()
        hq.stop()
        hq.store.close()
        broker.stop()


def test_a_profile_poisoned_before_hq_refused_such_stamps_still_takes_changes(sqlite_url: str) -> None:
    store = ProfileStore(sqlite_url)
    try:
        store.record(_event(EventKind.WISHLIST_ADD, 1, VICTIM, sku=SKU, hlc=f"999999999999999-999999-{KIOSK}"))
        api = TestClient(create_app(store, ApiKeys(KEYS)))
        for shopper in (VICTIM, OTHER):
            changed = api.put(f"/v1/shoppers/{shopper}/preferences/shoe_size", headers=WEB, json={"value": "42"})
            assert changed.status_code == 200, changed.json()
            assert Hlc.parse(changed.json()["hlc"]).wall_ms <= wall_clock_ms() + MAX_AHEAD_MS  # not dragged along
    finally:
        store.close()


def test_a_visit_split_across_workers_of_a_share_group_is_taken_whole(
        mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], postgres_url: str, tmp_path: Path) -> None:
    # Each worker may get any of the visit's events first: each event carries the card,
    # so whichever worker sees the visit first proves it, and the others find the proof.
    verify = card_verifier(hq_key[0].public_key())
    store = ProfileStore(postgres_url)
    workers = [IngestWorker(mosquitto.url, store, worker_id=f"hq-ingest-{n}", share_group="hq", verify_card=verify)
               for n in (1, 2)]
    outbox = Outbox(tmp_path / "outbox.sqlite")
    kiosk = Kiosk(load_catalog(demo_catalog_path()), outbox, STORE, KIOSK, verify_card=verify)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    try:
        for worker in workers:
            worker.start()
            assert worker.subscribed.wait(10)
        kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(hq_key[0], VICTIM, Role.SHOPPER, 600)))
        kiosk.consent(True)
        skus = [product.sku for product in list(kiosk.catalog.products)[:10]]
        for sku in skus:
            kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=sku))
            assert kiosk.set_wishlist(sku, True)
        link.start()
        assert eventually(lambda: len(outbox) == 0)
        assert sum(w.stats.refused_no_card_proof for w in workers) == 0
        assert sum(w.stats.stored for w in workers) == 22  # the visit's start, the consent, 10 views, 10 adds
        assert sorted(store.profile(VICTIM).wishlist) == sorted(skus)
    finally:
        link.stop()
        for worker in workers:
            worker.stop()
        store.close()
