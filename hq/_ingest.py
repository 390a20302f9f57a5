"""HQ's ingest worker: consumes kiosk events from the broker and stores each once.

A message is acknowledged to the broker only after it is stored (or rejected as not
ours), so a worker that dies mid-way loses nothing: the broker redelivers. Once stored,
the event's sequence goes back to its kiosk in a receipt, and only then does the kiosk
forget it.

Before storing, a batch goes through HQ's admission rules (``_admission``): an event
stamped too far ahead of HQ's clock, or naming a shopper whose card was not read in its
visit, is refused, logged, counted, and receipted all the same.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from backend_sync import BrokerUrl, MqttClient
from hq._admission import Admission, RefusalKind, admit, sessions_to_check
from hq._store import ProfileStore
from kiosk_protocol import (
    EVENTS_WILDCARD,
    RECEIPT_HIGHEST_SEQ,
    CardVerifier,
    ContractError,
    MessageTooLarge,
    Receipt,
    TapEvent,
    decode_event,
    kiosk_topics,
    wall_clock_ms,
)

log = logging.getLogger(__name__)

_MAX_BATCH = 2000


@dataclass
class IngestStats:
    """What a worker has done since it started."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    receipts_sent: int = 0
    oversized: int = 0  # of the rejected: larger than an event may be, refused unread
    refused_clock_ahead: int = 0  # HLC too far ahead of HQ's clock
    refused_no_card_proof: int = 0  # names a shopper whose card was not read in the visit


@dataclass(frozen=True)
class _Arrival:
    """A message taken from the broker, not yet acknowledged; ``event`` None if rejected."""

    mid: int
    qos: int
    event: TapEvent | None


class IngestWorker:
    """Subscribes to every kiosk's events and records them in ``store``.

    paho's thread only validates and queues; a writer thread stores whatever has arrived
    in one transaction (group commit), then acknowledges those messages in arrival order
    (as MQTT requires) and sends each kiosk one receipt for its stored sequences. With
    ``share_group`` set, workers of that group share one MQTT shared subscription.
    ``verify_card`` checks the shopper cards kiosks send (see ``_admission``); without it
    no kiosk event may name a shopper.
    """

    def __init__(self, broker_url: str, store: ProfileStore, worker_id: str = "hq-ingest-1",
                 share_group: str | None = None, verify_card: CardVerifier | None = None) -> None:
        self.broker = BrokerUrl.parse(broker_url)
        self.store = store
        self._verify_card = verify_card
        self.stats = IngestStats()
        topic = f"$share/{share_group}/{EVENTS_WILDCARD}" if share_group else EVENTS_WILDCARD
        self._client = MqttClient(self.broker, worker_id, role=f"ingest worker {worker_id}", subscriptions=[topic],
                                  on_message=self._on_message, manual_ack=True)
        self.subscribed = self._client.subscribed
        self._arrived: deque[_Arrival] = deque()
        self._arrival = threading.Condition()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_batches, name="hq-ingest-writer", daemon=True)

    def start(self) -> None:
        """Connect (retrying in the background) and consume."""
        self._client.start()
        self._writer.start()

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay with the broker."""
        self._stop.set()
        with self._arrival:
            self._arrival.notify()
        self._writer.join(5)
        self._client.stop()

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        try:
            event: TapEvent | None = decode_event(bytes(message.payload), topic=message.topic)
        except ContractError as exc:
            self.stats.rejected += 1
            self.stats.oversized += isinstance(exc, MessageTooLarge)
            log.warning("rejected a message on %s: %s", message.topic, exc)
            event = None  # acknowledged in turn: redelivering it would not make it valid
        with self._arrival:
            self._arrived.append(_Arrival(message.mid, message.qos, event))
            self._arrival.notify()

    def _write_batches(self) -> None:
        while not self._stop.is_set():
            with self._arrival:
                if not self._arrived:
                    self._arrival.wait(0.2)
                batch = [self._arrived.popleft() for _ in range(min(len(self._arrived), _MAX_BATCH))]
            if batch and self._store(batch):
                self._acknowledge(batch)

    def _store(self, batch: list[_Arrival]) -> bool:
        """Store the batch, retrying while the database is away; False only when stopping.

        A row the database itself refuses does not stall the worker: the batch is stored
        event by event and the refused event is rejected, logged and counted (and still
        receipted, so its kiosk stops sending it).
        """
        events = [arrival.event for arrival in batch if arrival.event is not None]
        delay = 0.5
        while not self._stop.is_set():
            rejected_before = self.stats.rejected
            try:
                admission = self._admit(events)
                try:
                    new = self.store.record_many(admission.accepted, admission.new_visits)
                except (IntegrityError, DataError):
                    new = self._store_one_by_one(admission)
            except SQLAlchemyError as exc:
                log.error("cannot store %d events, retrying in %.1f s: %s", len(events), delay, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._count_refusals(admission)
            self.stats.stored += len(new)
            self.stats.duplicates += len(admission.accepted) - len(new) - (self.stats.rejected - rejected_before)
            return True
        return False  # left unacknowledged: the broker redelivers after reconnect

    def _admit(self, events: list[TapEvent]) -> Admission:
        """The batch through HQ's admission rules: one lookup of card visits for the whole batch."""
        known = self.store.card_visits(sessions_to_check(events))
        return admit(events, known, self._verify_card, wall_clock_ms())

    def _count_refusals(self, admission: Admission) -> None:
        for refused in admission.refused:
            if refused.kind is RefusalKind.CLOCK_AHEAD:
                self.stats.refused_clock_ahead += 1
            else:
                self.stats.refused_no_card_proof += 1
            event = refused.event
            log.warning("refused %s event %s from %s/%s: %s", event.kind.value, event.event_id, event.store,
                        event.kiosk, refused.reason)

    def _store_one_by_one(self, admission: Admission) -> set[str]:
        new: set[str] = set()
        for event in admission.accepted:
            try:
                new |= self.store.record_many([event], [v for v in admission.new_visits
                                                        if v.session == str(event.session)])
            except (IntegrityError, DataError) as exc:
                self.stats.rejected += 1
                log.error("HQ's database refuses event %s from %s/%s; rejected: %s", event.event_id, event.store,
                          event.kiosk, exc.orig)
        return new

    def _acknowledge(self, batch: list[_Arrival]) -> None:
        receipts: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        for arrival in batch:
            self._client.ack(arrival.mid, arrival.qos)
            if arrival.event is not None:
                receipts[arrival.event.store, arrival.event.kiosk].append(arrival.event.seq)
        highest = self._highest_seqs(receipts.keys())
        for (store, kiosk), seqs in receipts.items():
            # A receipt lost here is harmless: the kiosk sends the event again and gets a
            # receipt for the duplicate.
            highest_seq = max(highest.get((store, kiosk), 0), *seqs)
            receipt = Receipt(seqs=tuple(seqs)).model_dump_json().encode()
            self._client.publish(kiosk_topics(store, kiosk).receipts, receipt,
                                 properties={"UserProperty": [(RECEIPT_HIGHEST_SEQ, str(highest_seq))]})
            self.stats.receipts_sent += 1

    def _highest_seqs(self, kiosks: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """What HQ holds of each kiosk's sequence, for its receipt; the receipt's own seqs when the database is away."""
        try:
            return self.store.highest_seqs(kiosks)
        except SQLAlchemyError as exc:
            log.warning("receipts go without HQ's highest sequences: %s", exc)
            return {}
