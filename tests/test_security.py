"""Broker security against a real Mosquitto: TLS with the store's CA, per-kiosk
credentials, and an ACL that confines each kiosk to its own topics."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend_sync import BrokerUrl, EventKind, encode_event, kiosk_topics, new_event
from backend_sync._mqtt import connect_async, new_client
from backend_sync.hq import BrokerSecurity, Credentials, mosquitto_password_hash
from tests.conftest import Mosquitto, eventually

STORE = "madrid-centro"


class Secured:
    def __init__(self, broker: Mosquitto, security: BrokerSecurity, accounts: dict[str, Credentials]) -> None:
        self.broker, self.security, self.accounts = broker, security, accounts

    def url(self, who: str) -> str:
        return self.accounts[who].broker_url("127.0.0.1", self.broker.port, self.security.ca_cert)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    security = BrokerSecurity(tmp_path / "broker-security")
    security.init("Madrid Centro", ["127.0.0.1", "localhost"])
    accounts = {
        "hq": security.provision_service("hq-ingest"),
        "a": security.provision_kiosk(STORE, "kiosk-a"),
        "b": security.provision_kiosk(STORE, "kiosk-b"),
    }
    broker = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    broker.start()
    yield Secured(broker, security, accounts)
    broker.stop()


class Client:
    """A connected test client; records what it receives and how the broker answered."""

    def __init__(self, url: str, client_id: str) -> None:
        self.broker = BrokerUrl.parse(url)
        self.connack: list[object] = []
        self.received: list[tuple[str, bytes]] = []
        self.subacks: list[list[object]] = []
        self.connected = threading.Event()
        self.client = new_client(self.broker, client_id)
        self.client.on_connect = lambda c, u, f, reason, p: (self.connack.append(reason),
                                                             reason.is_failure or self.connected.set())
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.subacks.append(reasons)
        connect_async(self.client, self.broker)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _event(kiosk: str) -> bytes:
    return encode_event(new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=kiosk, seq=1,
                                  session=uuid.uuid4(), shopper=None, sku="BOOT-1"))


def test_password_hash_matches_mosquitto_format() -> None:
    entry = mosquitto_password_hash("secret", salt=b"0123456789ab", rounds=101)
    assert entry.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and len(entry.split("$")) == 5


def test_provisioned_kiosk_connects_over_tls(secured: Secured) -> None:
    kiosk = Client(secured.url("a"), "a")
    try:
        assert kiosk.connected.wait(10), kiosk.connack
    finally:
        kiosk.close()


@pytest.mark.parametrize("who", ["anonymous", "wrong password"])
def test_anonymous_and_wrong_passwords_are_refused(secured: Secured, who: str) -> None:
    ca = secured.security.ca_cert
    url = (f"mqtts://127.0.0.1:{secured.broker.port}?ca={ca}" if who == "anonymous"
           else f"mqtts://{STORE}.kiosk-a:guess@127.0.0.1:{secured.broker.port}?ca={ca}")
    client = Client(url, "intruder")
    try:
        eventually(lambda: client.connack)
        assert client.connack and client.connack[0].is_failure  # type: ignore[attr-defined]
        assert not client.connected.is_set()
    finally:
        client.close()


def test_plain_mqtt_to_the_tls_port_gets_nowhere(secured: Secured) -> None:
    client = Client(f"mqtt://{STORE}.kiosk-a:x@127.0.0.1:{secured.broker.port}", "plain")
    try:
        assert not client.connected.wait(2)
    finally:
        client.close()


def test_kiosk_a_cannot_publish_as_kiosk_b(secured: Secured) -> None:
    hq, kiosk_a = Client(secured.url("hq"), "hq-ingest"), Client(secured.url("a"), f"{STORE}.kiosk-a")
    try:
        assert hq.connected.wait(10) and kiosk_a.connected.wait(10)
        hq.client.subscribe("kiosk/+/+/events", qos=1)
        assert eventually(lambda: hq.subacks)
        kiosk_a.client.publish(kiosk_topics(STORE, "kiosk-b").events, _event("kiosk-b"), qos=1).wait_for_publish(5)
        kiosk_a.client.publish(kiosk_topics(STORE, "kiosk-a").events, _event("kiosk-a"), qos=1).wait_for_publish(5)
        # The broker delivers one client's messages in order: had the forged one passed, it
        # would be here before kiosk-a's own.
        assert eventually(lambda: bool(hq.received))
        assert [topic for topic, _ in hq.received] == [kiosk_topics(STORE, "kiosk-a").events]
    finally:
        hq.close()
        kiosk_a.close()


def test_kiosk_a_cannot_read_kiosk_b_s_profile_responses(secured: Secured) -> None:
    hq, kiosk_a = Client(secured.url("hq"), "hq-ingest"), Client(secured.url("a"), f"{STORE}.kiosk-a")
    try:
        assert hq.connected.wait(10) and kiosk_a.connected.wait(10)
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-b").profile_response, qos=1)
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-a").profile_response, qos=1)
        assert eventually(lambda: len(kiosk_a.subacks) == 2)  # Mosquitto grants it, then filters each delivery
        hq.client.publish(kiosk_topics(STORE, "kiosk-b").profile_response, b"b's profile", qos=1).wait_for_publish(5)
        hq.client.publish(kiosk_topics(STORE, "kiosk-a").profile_response, b"a's profile", qos=1).wait_for_publish(5)
        assert eventually(lambda: bool(kiosk_a.received))  # b's, had it passed, would come first
        assert [payload for _, payload in kiosk_a.received] == [b"a's profile"]
    finally:
        hq.close()
        kiosk_a.close()


def test_reprovisioning_a_lost_kiosk_revokes_its_old_password(secured: Secured) -> None:
    old_url = secured.url("a")
    secured.security.provision_kiosk(STORE, "kiosk-a")
    secured.broker.stop()
    secured.broker.start()
    client = Client(old_url, f"{STORE}.kiosk-a")
    try:
        eventually(lambda: client.connack)
        assert client.connack and client.connack[0].is_failure  # type: ignore[attr-defined]
    finally:
        client.close()


def test_provisioned_kiosk_and_hq_sync_over_tls(secured: Secured, sqlite_url: str, tmp_path: Path) -> None:
    from backend_sync import KioskLink, Outbox
    from backend_sync.hq import IngestWorker, ProfileStore

    hq = IngestWorker(secured.url("hq"), ProfileStore(sqlite_url), worker_id="hq-ingest")
    hq.start()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    link = KioskLink(secured.url("a"), STORE, "kiosk-a", outbox)
    try:
        assert hq.subscribed.wait(10)
        outbox.enqueue(kiosk_topics(STORE, "kiosk-a").events, lambda seq: _event("kiosk-a"))
        link.start()
        eventually(lambda: hq.store.event_count() == 1 and len(outbox) == 0, 15)
        assert hq.store.event_count() == 1 and len(outbox) == 0
    finally:
        link.stop()
        hq.stop()
        hq.store.close()


def test_provisioning_before_the_ca_exists_is_a_clear_error(tmp_path: Path) -> None:
    from backend_sync import SyncError

    with pytest.raises(SyncError, match="init-broker"):
        BrokerSecurity(tmp_path).provision_kiosk(STORE, "kiosk-a")
