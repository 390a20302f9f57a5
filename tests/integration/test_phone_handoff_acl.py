"""Hand-off requests and answers under the generated Mosquitto config (TLS, a login per
kiosk and per HQ connection, the ACL): a kiosk asks only as itself and hears only its own
answers; HQ's responder login answers on the asking kiosk's topic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hq import BrokerSecurity, Credentials, HandoffKey, HandoffSigner, ProfileResponder, ProfileStore
from kiosk_protocol import HandoffRequest, HandoffResponse, decode, kiosk_topics
from testkit.broker_client import Client
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE = "madrid-centro"


class Broker:
    def __init__(self, mosquitto: Mosquitto, security: BrokerSecurity, accounts: dict[str, Credentials]) -> None:
        self.mosquitto, self.security, self.accounts = mosquitto, security, accounts

    def url(self, who: str) -> str:
        return self.accounts[who].broker_url("127.0.0.1", self.mosquitto.port, self.security.ca_cert)

    def client(self, who: str) -> Client:
        client = Client(self.url(who), self.accounts[who].username)
        assert client.connected.wait(10), client.connack
        return client


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    security = BrokerSecurity(tmp_path / "broker-security")
    security.init("Madrid Centro", ["127.0.0.1"])
    accounts = {"a": security.provision_kiosk(STORE, "kiosk-a"), "b": security.provision_kiosk(STORE, "kiosk-b"),
                **security.provision_hq(workers=1)}
    mosquitto = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    mosquitto.start()
    yield Broker(mosquitto, security, accounts)
    mosquitto.stop()


def _request(session: uuid.UUID) -> bytes:
    return HandoffRequest(request_id=uuid.uuid4(), session=session).model_dump_json().encode()


def test_kiosk_a_cannot_read_kiosk_b_s_hand_off_links(broker: Broker) -> None:
    hq, kiosk_a = broker.client("profiles"), broker.client("a")
    try:
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-b").handoff_response, qos=1)
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-a").handoff_response, qos=1)
        assert eventually(lambda: len(kiosk_a.subacks) == 2)  # Mosquitto grants it, then filters each delivery
        hq.client.publish(kiosk_topics(STORE, "kiosk-b").handoff_response, b"b's link", qos=1).wait_for_publish(5)
        hq.client.publish(kiosk_topics(STORE, "kiosk-a").handoff_response, b"a's link", qos=1).wait_for_publish(5)
        assert eventually(lambda: bool(kiosk_a.received))  # b's, had it passed, would come first
        assert [payload for _, payload in kiosk_a.received] == [b"a's link"]
    finally:
        hq.close()
        kiosk_a.close()


def test_kiosk_a_asks_only_as_itself_and_hq_answers_it_on_its_own_topic(broker: Broker, sqlite_url: str,
                                                                        tmp_path: Path) -> None:
    store = ProfileStore(sqlite_url)
    key = HandoffKey.from_file(tmp_path / "handoff.key")
    responder = ProfileResponder(broker.url("profiles"), store, lambda token: "nobody",
                                 handoff=HandoffSigner(key, "https://shop.example.com", lambda token: "nobody"))
    responder.start()
    kiosk_a = broker.client("a")
    try:
        assert responder.subscribed.wait(10)
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-a").handoff_response, qos=1)
        assert eventually(lambda: bool(kiosk_a.subacks))
        as_b, as_a = uuid.uuid4(), uuid.uuid4()
        kiosk_a.client.publish(kiosk_topics(STORE, "kiosk-b").handoff_request, _request(as_b), qos=1)
        kiosk_a.client.publish(kiosk_topics(STORE, "kiosk-a").handoff_request, _request(as_a), qos=1)
        assert eventually(lambda: bool(kiosk_a.received))  # in order: the forged one, had it passed, first
        (topic, payload), = kiosk_a.received
        answer = decode(HandoffResponse, payload)
        assert topic == kiosk_topics(STORE, "kiosk-a").handoff_response and answer.url is not None
        claims = key.open(answer.url.rsplit("/", 1)[1])
        assert (claims.kiosk, claims.session) == ("kiosk-a", as_a)
        assert responder.stats.links_signed == 1
    finally:
        kiosk_a.close()
        responder.stop()
        store.close()
