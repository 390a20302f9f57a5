"""The kiosk's share of its store's traffic on the link: the updates to requests made at this
kiosk (its own ``reservation/changes`` topic), and what HQ keeps retained for the whole
store under ``store/<store>/#`` (each product's free units, the store's open requests).

Each message is decoded within its kind's size cap and checked against the topic it came
on (a stock level names the store and product of its topic, a store's requests its
store); whatever fails is refused, logged and counted in the link's stats, and never
reaches the kiosk. The handlers run on paho's thread: moving to the screen's thread is
the receiver's to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt

from backend_sync._mqtt import MessageHandler
from kiosk_protocol import (
    ContractError,
    ReservationResponse,
    ReservationTopics,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    decode,
    stock_topic,
)

if TYPE_CHECKING:
    from backend_sync._link import LinkStats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreReceivers:
    """Who hears of each kind of the store's messages (on paho's thread)."""

    on_reservation_update: Callable[[ReservationUpdate], None] = lambda update: None
    on_stock_level: Callable[[StockLevel], None] = lambda level: None
    on_store_requests: Callable[[StoreRequests], None] = lambda requests: None
    on_late_answer: Callable[[ReservationResponse], None] = lambda answer: None  # after the wait gave up


class StoreTraffic:
    """Decodes and routes the store's messages for one kiosk's link.

    Args:
        topics: the kiosk's reservation topics and its store's.
        store: the kiosk's store (what stock levels and request lists must name).
        receivers: where the well-formed messages go.
        stats: the link's stats, where each message is counted.
        reject: the link's own refusal (logs and counts every refused message).
    """

    def __init__(self, topics: ReservationTopics, store: str, receivers: StoreReceivers, stats: LinkStats,
                 reject: Callable[[mqtt.MQTTMessage, ContractError], None]) -> None:
        self.stats = stats
        self._topics, self._store, self._receivers, self._reject = topics, store, receivers, reject
        self._stock_prefix = stock_topic(store, "")

    def handlers(self) -> dict[str, MessageHandler]:
        """The link's handlers (and so its subscriptions) for the store's traffic."""
        return {self._topics.changes: self._on_update, self._topics.store_wildcard: self._on_store_message}

    def _on_update(self, message: mqtt.MQTTMessage) -> None:
        try:
            update = decode(ReservationUpdate, bytes(message.payload))
        except ContractError as exc:
            self._refuse(message, exc)
            return
        self.stats.reservation_updates += 1
        self._receivers.on_reservation_update(update)

    def _on_store_message(self, message: mqtt.MQTTMessage) -> None:
        if not message.payload:  # an empty retained payload deletes the topic: nothing to take
            return
        try:
            if message.topic.startswith(self._stock_prefix):
                self._take_level(message)
            elif message.topic == self._topics.requests:
                self._take_requests(message)
            else:
                raise ContractError(f"the kiosk takes nothing on {message.topic!r}")
        except ContractError as exc:
            self._refuse(message, exc)

    def _take_level(self, message: mqtt.MQTTMessage) -> None:
        level = decode(StockLevel, bytes(message.payload))
        if level.store != self._store or message.topic != stock_topic(self._store, level.sku):
            raise ContractError(f"a stock level of {level.store}/{level.sku} arrived on {message.topic!r}")
        self.stats.stock_levels += 1
        self._receivers.on_stock_level(level)

    def _take_requests(self, message: mqtt.MQTTMessage) -> None:
        requests = decode(StoreRequests, bytes(message.payload))
        if requests.store != self._store:
            raise ContractError(f"the open requests of {requests.store} arrived on {message.topic!r}")
        self.stats.store_requests += 1
        self._receivers.on_store_requests(requests)

    def _refuse(self, message: mqtt.MQTTMessage, error: ContractError) -> None:
        self.stats.store_refused += 1
        self._reject(message, error)
