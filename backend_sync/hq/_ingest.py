"""HQ's ingest worker: consumes kiosk events from the broker and stores each once.

A message is acknowledged to the broker only after it is stored (or rejected as not
ours), so a worker that dies mid-way loses nothing: the broker redelivers. Once stored,
the event's sequence goes back to its kiosk in a receipt, and only then does the kiosk
forget it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError

from backend_sync._mqtt import BrokerUrl, connect_async, new_client
from backend_sync.contract import EVENTS_WILDCARD, Receipt, decode_event, kiosk_topics
from backend_sync.exceptions import ContractError
from backend_sync.hq._store import ProfileStore

log = logging.getLogger(__name__)

_RECEIPT_EVERY_S = 0.05


@dataclass
class IngestStats:
    """What a worker has done since it started."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    receipts_sent: int = 0


class IngestWorker:
    """Subscribes to every kiosk's events and records them in ``store``.

    With ``share_group`` set, workers of that group share one MQTT shared subscription.
    """

    def __init__(self, broker_url: str, store: ProfileStore, worker_id: str = "hq-ingest-1",
                 share_group: str | None = None) -> None:
        self.broker = BrokerUrl.parse(broker_url)
        self.store = store
        self.stats = IngestStats()
        self.subscribed = threading.Event()
        self._topic = f"$share/{share_group}/{EVENTS_WILDCARD}" if share_group else EVENTS_WILDCARD
        self._client = new_client(self.broker, worker_id, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._receipts: defaultdict[str, list[int]] = defaultdict(list)  # receipts topic -> stored seqs
        self._receipts_lock = threading.Lock()
        self._stop = threading.Event()
        self._receipt_thread = threading.Thread(target=self._send_receipts, name="hq-receipts", daemon=True)

    def start(self) -> None:
        """Connect (retrying in the background) and consume on paho's thread."""
        connect_async(self._client, self.broker)
        self._client.loop_start()
        self._receipt_thread.start()

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker."""
        self._stop.set()
        self._receipt_thread.join(2)
        self._client.disconnect()
        self._client.loop_stop()

    def _send_receipts(self) -> None:
        """Every few milliseconds, tell each kiosk which of its events are stored."""
        while not self._stop.wait(_RECEIPT_EVERY_S):
            with self._receipts_lock:
                batches, self._receipts = self._receipts, defaultdict(list)
            for topic, seqs in batches.items():
                # A receipt lost here is harmless: the kiosk sends the event again and
                # gets a receipt for the duplicate.
                self._client.publish(topic, Receipt(seqs=tuple(seqs)).model_dump_json().encode(), qos=1)
                self.stats.receipts_sent += 1

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the ingest worker: %s", self.broker, reason)
            return
        client.subscribe(self._topic, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        log.info("ingesting %s from %s", self._topic, self.broker)
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            event = decode_event(bytes(message.payload), topic=message.topic)
        except ContractError as exc:
            self.stats.rejected += 1
            log.warning("rejected a message on %s: %s", message.topic, exc)
            client.ack(message.mid, message.qos)  # redelivering it would not make it valid
            return
        for attempt in range(3):
            try:
                new = self.store.record(event)
                break
            except SQLAlchemyError as exc:
                log.error("cannot store event %s (attempt %d): %s", event.event_id, attempt + 1, exc)
                time.sleep(0.5 * (attempt + 1))
        else:
            return  # left unacknowledged: the broker redelivers it after reconnect
        if new:
            self.stats.stored += 1
        else:
            self.stats.duplicates += 1
        client.ack(message.mid, message.qos)
        with self._receipts_lock:
            self._receipts[kiosk_topics(event.store, event.kiosk).receipts].append(event.seq)
