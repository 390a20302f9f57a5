"""A kiosk's side of a store's traffic, in plain paho with the contract's messages: it asks HQ
for holds (MQTT 5 request/response on its reservation topics) and records what reaches it
of its own reservation changes and its store's ``store/<store>/#`` topics, each with the
instant it arrived, for the tests and the reservation benchmark."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from backend_sync import BrokerUrl
from backend_sync._mqtt import connect_async, new_client
from kiosk_protocol import (
    ReservationKind,
    ReservationRequest,
    ReservationResponse,
    ReservationState,
    ReservationTopics,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    decode,
)
from testkit.waiting import eventually


@dataclass
class Heard:
    """One message a store kiosk received: its topic, payload, retain flag and arrival (monotonic)."""

    topic: str
    payload: bytes
    retained: bool
    at: float = field(default_factory=time.monotonic)


class StoreKiosk:
    """One kiosk of ``store`` on the broker at ``url`` (its own login when the URL carries one)."""

    def __init__(self, url: str, store: str, kiosk: str, *, listen_to_store: bool = True) -> None:
        self.topics = ReservationTopics(store, kiosk)
        self.heard: list[Heard] = []
        self.subscribed = threading.Event()
        self._answers: dict[bytes, ReservationResponse] = {}
        self._answered = threading.Condition()
        broker = BrokerUrl.parse(url)
        self._client = new_client(broker, broker.username or f"{store}.{kiosk}", persistent=False)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self.subscribed.set()
        self._client.on_message = self._on_message
        self._listen_to_store = listen_to_store
        connect_async(self._client, broker, persistent=False)
        self._client.loop_start()
        if not self.subscribed.wait(10):
            raise TimeoutError(f"{store}/{kiosk} did not subscribe at {broker}")

    def ask(self, sku: str, size: str, kind: ReservationKind = ReservationKind.FITTING_ROOM,
            shopper: str | None = None, token: str | None = None, session: uuid.UUID | None = None,
            timeout_s: float = 10.0) -> ReservationResponse:
        """Ask for a hold and wait for HQ's answer."""
        request = ReservationRequest(request_id=uuid.uuid4(), session=session or uuid.uuid4(), sku=sku, size=size,
                                     kind=kind, shopper=shopper, token=token)
        return self.send(request.model_dump_json(exclude_none=True).encode(), request.request_id, timeout_s)

    def send(self, payload: bytes, request_id: uuid.UUID, timeout_s: float = 10.0,
             topic: str | None = None) -> ReservationResponse:
        """Publish ``payload`` as a request (on the kiosk's request topic unless told) and wait for its answer."""
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = self.topics.response
        properties.CorrelationData = request_id.bytes
        self._client.publish(topic or self.topics.request, payload, qos=1, properties=properties)
        with self._answered:
            if not self._answered.wait_for(lambda: request_id.bytes in self._answers, timeout_s):
                raise TimeoutError(f"no answer to reservation request {request_id}")
            return self._answers.pop(request_id.bytes)

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish anything anywhere as this kiosk (the broker's ACL decides where it goes)."""
        self._client.publish(topic, payload, qos=1).wait_for_publish(5)

    def updates(self) -> list[ReservationUpdate]:
        """The reservation updates received on the kiosk's changes topic, in order."""
        return [decode(ReservationUpdate, h.payload) for h in self.heard if h.topic == self.topics.changes]

    def arrival_of(self, reservation_id: uuid.UUID, state: ReservationState, since: int = 0) -> Heard | None:
        """The first update heard (from the ``since``-th message on) moving ``reservation_id`` to ``state``."""
        for heard in self.heard[since:]:
            if heard.topic == self.topics.changes:
                update = decode(ReservationUpdate, heard.payload)
                if update.reservation.reservation_id == reservation_id and update.reservation.state is state:
                    return heard
        return None

    def levels(self, sku: str | None = None) -> list[StockLevel]:
        """The stock levels received (of ``sku`` when given), in order."""
        found = [decode(StockLevel, h.payload) for h in self.heard if h.topic.startswith(f"store/{self._store}/stock/")]
        return [level for level in found if sku is None or level.sku == sku]

    def requests(self) -> list[StoreRequests]:
        """The store's open-request lists received, in order."""
        return [decode(StoreRequests, h.payload) for h in self.heard if h.topic == self.topics.requests]

    def wait_for(self, condition: Any, timeout_s: float = 10.0) -> bool:
        return eventually(condition, timeout_s, poll_s=0.01)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def _store(self) -> str:
        return self.topics.requests.split("/")[1]

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        subscriptions = [(self.topics.response, 1), (self.topics.changes, 1)]
        if self._listen_to_store:
            subscriptions.append((self.topics.store_wildcard, 1))
        client.subscribe(subscriptions)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics.response:
            answer = decode(ReservationResponse, bytes(message.payload))
            correlation = getattr(message.properties, "CorrelationData", answer.request_id.bytes)
            with self._answered:
                self._answers[correlation] = answer
                self._answered.notify_all()
            return
        self.heard.append(Heard(message.topic, bytes(message.payload), bool(message.retain)))
