"""The kiosk's MQTT link: drains the outbox with QoS 1, forgets an event only when HQ's
receipt says it is stored, and keeps a retained online/offline status with a last will.

It also carries the signed-in shopper's profile: the pull at sign-in (``request_profile``),
the changes HQ pushes while they stand here (decoded within their size cap and handed to
``on_profile_change``; which visit they are for is the runtime's to check), and the word
that the visit ended (``end_visit``); and the store's traffic (``_store_link``): a hold
asked for (``request_reservation``), the updates to the kiosk's requests, the store's
stock levels and its open requests; and HQ's remote care (``on_care``: a screenshot or log
lines asked for, answered with ``answer_care``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import paho.mqtt.client as mqtt

from backend_sync._mqtt import BrokerUrl, LastWill, MessageHandler, MqttClient
from backend_sync._outbox import Outbox, SequenceFloor
from backend_sync._store_link import StoreReceivers, StoreTraffic
from backend_sync.exceptions import OutboxUnavailable
from kiosk_protocol import (
    FLEET_COMMANDS,
    MAX_MANIFEST_BYTES,
    RECEIPT_HIGHEST_SEQ,
    CareRequest,
    CareResponse,
    CareTopics,
    ContractError,
    HandoffRequest,
    HandoffResponse,
    KioskCommand,
    KioskStatus,
    LinkState,
    MessageTooLarge,
    ProfileChange,
    ProfileRequest,
    ProfileResponse,
    ReservationKind,
    ReservationRequest,
    ReservationResponse,
    ReservationTopics,
    UpdateKind,
    VisitEnded,
    decode,
    decode_receipt,
    kiosk_topics,
    manifest_topic,
)

log = logging.getLogger(__name__)

_MAX_IN_FLIGHT = 100
# A sent event with no receipt after this long is sent again (the broker may have died
# before saving it, or HQ's receipt was lost); HQ stores by id, so nothing doubles.
RESEND_AFTER_S = 30.0
STATUS_EVERY_S = 30.0


@dataclass(frozen=True)
class KioskFacts:
    """What the rest of the kiosk knows about itself, for its status."""

    app_version: str = ""
    catalog_version: int = 0
    reader: str = "unknown"
    update_problem: str = ""
    locked: str = ""
    catalog_fallback: str = ""
    outbox_reset: str = ""
    disk_full: bool = False
    disk_free_mb: int | None = None
    offers_problem: str = ""
    software_release: int = 0
    software_on_trial: bool = False
    software_failed: int = 0
    software_problem: str = ""


_Request = ProfileRequest | HandoffRequest | ReservationRequest
_Answer = ProfileResponse | HandoffResponse | ReservationResponse
_Order = TypeVar("_Order", KioskCommand, CareRequest)  # what HQ tells the kiosk to do


@dataclass(frozen=True)
class _Puback:
    mid: int


@dataclass(frozen=True)
class _Receipt:
    seqs: tuple[int, ...]
    highest_seq: int


@dataclass(frozen=True)
class _Reconnected:
    pass


@dataclass
class LinkStats:
    """What the link has done since it started."""

    published: int = 0
    resent: int = 0
    receipted: int = 0
    rejected_messages: int = 0
    changes_received: int = 0  # profile changes HQ pushed, well-formed
    changes_refused: int = 0  # pushed messages that were not (too large, malformed): also rejected_messages
    storage_errors: int = 0  # outbox writes the disk refused (retried on the next round)
    # The store's traffic (``_store_link``): well-formed messages of each kind, and those refused
    # (too large, malformed, or not what their topic says: also rejected_messages).
    reservation_updates: int = 0
    stock_levels: int = 0
    store_requests: int = 0
    store_refused: int = 0


class KioskLink:
    """Publishes a kiosk's outbox to the broker at ``broker_url``."""

    def __init__(self, broker_url: str, store: str, kiosk: str, outbox: Outbox,
                 resend_after_s: float = RESEND_AFTER_S, facts: Callable[[], KioskFacts] = KioskFacts,
                 on_command: Callable[[KioskCommand], None] = lambda command: None,
                 on_manifest: Callable[[UpdateKind, bytes], None] = lambda kind, envelope: None,
                 on_profile_change: Callable[[ProfileChange], None] = lambda change: None,
                 on_connected: Callable[[], None] = lambda: None,
                 on_care: Callable[[CareRequest], None] = lambda request: None,
                 sequence_floor: SequenceFloor | None = None, store_receivers: StoreReceivers | None = None) -> None:
        self.broker = BrokerUrl.parse(broker_url)
        self.outbox = outbox
        self.sequence_floor = sequence_floor
        self.stats = LinkStats()
        # Set only once the drain thread has been told of the new connection (its
        # _Reconnected news), so it never publishes before forgetting the old one's mids.
        self._connected = threading.Event()
        self._store, self._kiosk, self._facts = store, kiosk, facts
        self._topics = kiosk_topics(store, kiosk)
        self._reservation_topics = ReservationTopics(store, kiosk)
        self._care_topics = CareTopics(store, kiosk)
        receivers = store_receivers or StoreReceivers()
        store_traffic = StoreTraffic(self._reservation_topics, store, receivers, self.stats, self._reject)
        self._on_late_answer = receivers.on_late_answer
        self._resend_after_s = resend_after_s
        self._on_manifest = on_manifest
        self._on_profile_change = on_profile_change
        self._on_connected = on_connected
        handlers: dict[str, MessageHandler] = {
            self._topics.receipts: self._on_receipt,
            self._topics.profile_response: self._answer_handler(ProfileResponse),
            self._topics.handoff_response: self._answer_handler(HandoffResponse),
            self._reservation_topics.response: self._answer_handler(ReservationResponse),
            **store_traffic.handlers(),
            self._topics.profile_changes: self._on_profile_change_message,
            self._topics.commands: self._decoded(KioskCommand, on_command),
            self._care_topics.request: self._decoded(CareRequest, on_care),
            FLEET_COMMANDS: self._decoded(KioskCommand, on_command),
            **{manifest_topic(kind.value): self._manifest_handler(kind) for kind in (UpdateKind.CATALOG,
                                                                                     UpdateKind.MODEL)},
            # Software goes out release by release, kiosk by kiosk (a staged rollout): on its own topic.
            self._topics.software: self._manifest_handler(UpdateKind.SOFTWARE),
        }
        self._client = MqttClient(self.broker, self.broker.username or f"{store}.{kiosk}", role="the kiosk",
                                  subscriptions=tuple(handlers), handlers=handlers,
                                  on_connect=self._on_connect, on_disconnect=self._connected.clear,
                                  on_publish=self._on_publish,
                                  will=LastWill(self._topics.status, self._status(LinkState.OFFLINE)))
        self.subscribed = self._client.subscribed  # the broker has answered its subscriptions
        self._answers: dict[uuid.UUID, tuple[threading.Event, list[_Answer]]] = {}
        self._news: queue.SimpleQueue[_Puback | _Receipt | _Reconnected] = queue.SimpleQueue()
        self._resend_now = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="kiosk-link", daemon=True)
        # Touched by the drain thread only.
        self._in_flight: dict[int, int] = {}  # paho mid -> outbox seq
        self._ever_sent: set[int] = set()
        self._status_due = 0.0

    @property
    def connected(self) -> bool:
        """Whether the broker session is up."""
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the broker session to be up; whether it is."""
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        """Connect (retrying in the background) and start draining the outbox."""
        self._client.start()
        self._thread.start()

    def stop(self) -> None:
        """Say offline, disconnect, and stop; unreceipted events stay in the outbox."""
        self._stop.set()
        self.outbox.wake()
        self._thread.join(3)
        if self.connected:
            self._client.publish(self._topics.status, self._status(LinkState.OFFLINE), retain=True).wait_for_publish(2)
        self._client.stop()

    def request_profile(self, shopper: str, card_token: str, timeout_s: float = 2.0,
                        session: uuid.UUID | None = None) -> ProfileResponse | None:
        """Ask HQ for a shopper's profile (MQTT 5 request/response); None if no answer in time.

        With ``session`` (the visit the card's tap started), HQ also pushes that visit the
        shopper's later changes made elsewhere, until ``end_visit``.
        """
        request = ProfileRequest(request_id=uuid.uuid4(), shopper=shopper, token=card_token, session=session)
        answer = self._ask(self._topics.profile_request, self._topics.profile_response, request, timeout_s)
        return answer if isinstance(answer, ProfileResponse) else None

    def request_handoff(self, session: uuid.UUID, shopper: str | None = None, card_token: str | None = None,
                        timeout_s: float = 2.0) -> HandoffResponse | None:
        """Ask HQ for the link that continues visit ``session`` on a phone; None if no answer in time.

        ``shopper`` (with their card's ``card_token``) only for a signed-in shopper who consented.
        """
        request = HandoffRequest(request_id=uuid.uuid4(), session=session, shopper=shopper, token=card_token)
        answer = self._ask(self._topics.handoff_request, self._topics.handoff_response, request, timeout_s)
        return answer if isinstance(answer, HandoffResponse) else None

    def request_reservation(self, session: uuid.UUID, sku: str, size: str, kind: ReservationKind,
                            shopper: str | None = None, card_token: str | None = None,
                            request_id: uuid.UUID | None = None, timeout_s: float = 3.0) -> ReservationResponse | None:
        """Ask HQ to hold one unit of ``sku`` in ``size`` for visit ``session``; None if no answer in time.

        ``shopper`` (with their card's ``card_token``) for a signed-in shopper; a collect
        request needs them. The answer holds the reservation, or why there is none; one that
        comes after ``timeout_s`` goes to the store receivers' ``on_late_answer`` (HQ may hold
        a unit for it), named by ``request_id``.

        Raises:
            ValueError: a collect request without a shopper, or a shopper without a token.
        """
        request = ReservationRequest(request_id=request_id or uuid.uuid4(), session=session, sku=sku, size=size,
                                     kind=kind, shopper=shopper, token=card_token)
        topics = self._reservation_topics
        answer = self._ask(topics.request, topics.response, request, timeout_s)
        return answer if isinstance(answer, ReservationResponse) else None

    def _ask(self, topic: str, response_topic: str, request: _Request, timeout_s: float) -> _Answer | None:
        """Publish ``request`` and wait for the answer that names its id (None when offline or none came)."""
        if not self.connected:
            return None
        answered, answer = threading.Event(), list[_Answer]()
        self._answers[request.request_id] = (answered, answer)
        try:
            self._client.publish(topic, request.model_dump_json().encode(),
                                 properties={"ResponseTopic": response_topic,
                                             "CorrelationData": request.request_id.bytes})
            answered.wait(timeout_s)
        finally:
            del self._answers[request.request_id]
        return answer[0] if answer else None

    def end_visit(self, session: uuid.UUID) -> None:
        """Tell HQ the visit ``session`` is over: it pushes it no more (sent once connected, if not now)."""
        self._client.publish(self._topics.profile_ended, VisitEnded(session=session).model_dump_json().encode())

    def answer_care(self, response: CareResponse) -> None:
        """Send HQ the answer to one of its care requests (QoS 1: after a reconnect, if HQ still waits)."""
        self._client.publish(self._care_topics.response, response.model_dump_json().encode())

    def sync_now(self) -> None:
        """Send again, at once, every event HQ has not confirmed, and the status (staff's "force sync")."""
        self._resend_now.set()
        self.outbox.wake()

    def publish_status(self) -> None:
        """Publish the retained status now (it also goes out on connect and every 30 s)."""
        self._client.publish(self._topics.status, self._status(LinkState.ONLINE), retain=True)

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain_once()
            except OutboxUnavailable as exc:  # a full disk: sending on is what frees it
                self.stats.storage_errors += 1
                log.warning("outbox write failed, retrying: %s", exc)
                self._stop.wait(min(1.0, self._resend_after_s))

    def _drain_once(self) -> None:
        """One round: news from paho into the outbox, then what is due out to the broker."""
        in_flight, ever_sent = self._in_flight, self._ever_sent
        resend_after_s = self._resend_after_s
        if self.connected and self._resend_now.is_set():
            self._resend_now.clear()
            resend_after_s, self._status_due = 0.0, 0.0
        if self.connected and time.monotonic() >= self._status_due:
            self.publish_status()
            self._status_due = time.monotonic() + STATUS_EVERY_S
        sent: list[int] = []
        while not self._news.empty():
            news = self._news.get()
            if isinstance(news, _Puback) and (seq := in_flight.pop(news.mid, None)) is not None:
                sent.append(seq)
            elif isinstance(news, _Receipt):
                self._heard_of(news.highest_seq)  # first: the rows go only once HQ's highest is kept
                self.stats.receipted += self.outbox.acknowledge(news.seqs)
                ever_sent.difference_update(news.seqs)
            elif isinstance(news, _Reconnected):
                in_flight.clear()  # paho resends its own copies; ours go again once due
        self.outbox.mark_sent(sent)
        if self.connected and len(in_flight) < _MAX_IN_FLIGHT:
            due = self.outbox.due(resend_after_s, exclude=in_flight.values(),
                                  limit=_MAX_IN_FLIGHT - len(in_flight))
            if due and self.sequence_floor is not None:  # kept before HQ can have them
                self.sequence_floor.raise_to(max(message.seq for message in due))
            for message in due:
                info = self._client.publish(message.topic, message.payload)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break  # connection dropped; sent again after reconnect
                in_flight[info.mid] = message.seq
                self.stats.published += 1
                if message.seq in ever_sent:
                    self.stats.resent += 1
                ever_sent.add(message.seq)
        self.outbox.wait_for_change(min(0.2, self._resend_after_s))

    def _on_connect(self) -> None:
        self._news.put(_Reconnected())
        self._connected.set()  # the drain loop publishes the online status at once
        self.outbox.wake()
        self._on_connected()

    def _on_publish(self, mid: int) -> None:
        self._news.put(_Puback(mid))
        self.outbox.wake()

    def _on_receipt(self, message: mqtt.MQTTMessage) -> None:
        try:
            receipt = decode_receipt(bytes(message.payload))
        except ContractError as exc:
            self._reject(message, exc)
            return
        self._news.put(_Receipt(receipt.seqs, max(_highest_seq(message), *receipt.seqs)))
        self.outbox.wake()

    def _heard_of(self, highest_seq: int) -> None:
        """HQ holds sequences up to ``highest_seq``: keep that apart, and never give them out again."""
        if self.sequence_floor is not None:
            self.sequence_floor.raise_to(highest_seq)
        if highest_seq > self.outbox.last_sequence():  # a kiosk whose outbox HQ has seen further than it
            self.outbox.continue_after(highest_seq)

    def _answer_handler(self, kind: type[_Answer]) -> MessageHandler:
        def handle(message: mqtt.MQTTMessage) -> None:
            try:
                response = decode(kind, bytes(message.payload))
            except ContractError as exc:
                self._reject(message, exc)
                return
            waiting = self._answers.get(response.request_id)
            if waiting is not None:
                waiting[1].append(response)
                waiting[0].set()
            elif isinstance(response, ReservationResponse):  # too late for the wait, not for the visit
                self._on_late_answer(response)
            # A late profile or hand-off answer is dropped: the kiosk already fell back.

        return handle

    def _on_profile_change_message(self, message: mqtt.MQTTMessage) -> None:
        try:
            change = decode(ProfileChange, bytes(message.payload))
        except ContractError as exc:
            self.stats.changes_refused += 1
            self._reject(message, exc)
            return
        self.stats.changes_received += 1
        self._on_profile_change(change)

    def _decoded(self, kind: type[_Order], deliver: Callable[[_Order], None]) -> MessageHandler:
        """A handler that decodes each message as ``kind`` (refusing what does not fit) and hands it on."""

        def handle(message: mqtt.MQTTMessage) -> None:
            try:
                order = decode(kind, bytes(message.payload))
            except ContractError as exc:
                self._reject(message, exc)
                return
            deliver(order)

        return handle

    def _manifest_handler(self, kind: UpdateKind) -> MessageHandler:
        def handle(message: mqtt.MQTTMessage) -> None:
            if not message.payload:  # a retained manifest taken back
                if kind is UpdateKind.SOFTWARE:
                    self._on_manifest(kind, b"")  # the release is no longer wanted (a halted rollout)
                return
            if len(message.payload) > MAX_MANIFEST_BYTES:  # HQ announces none this large
                self._reject(message, MessageTooLarge(f"manifest of {len(message.payload)} bytes exceeds its limit "
                                                      f"of {MAX_MANIFEST_BYTES} bytes"))
                return
            self._on_manifest(kind, bytes(message.payload))  # checked by the updater, not here

        return handle

    def _reject(self, message: mqtt.MQTTMessage, error: ContractError) -> None:
        self.stats.rejected_messages += 1
        log.warning("ignored a message on %s: %s", message.topic, error)

    def _status(self, state: LinkState) -> bytes:
        facts = self._facts()
        return KioskStatus(state=state, store=self._store, kiosk=self._kiosk, app_version=facts.app_version,
                           catalog_version=facts.catalog_version, backlog=len(self.outbox), reader=facts.reader,
                           update_problem=facts.update_problem, locked=facts.locked,
                           catalog_fallback=facts.catalog_fallback, outbox_reset=facts.outbox_reset,
                           disk_full=facts.disk_full, disk_free_mb=facts.disk_free_mb,
                           offers_problem=facts.offers_problem, software_release=facts.software_release,
                           software_on_trial=facts.software_on_trial, software_failed=facts.software_failed,
                           software_problem=facts.software_problem,
                           at=datetime.now(UTC)).model_dump_json().encode()


def _highest_seq(message: mqtt.MQTTMessage) -> int:
    """The highest sequence HQ holds for this kiosk, from a receipt's user property (0 if absent or not a number)."""
    for name, value in getattr(message.properties, "UserProperty", None) or ():
        if name == RECEIPT_HIGHEST_SEQ and value.isdigit():
            return min(int(value), _MAX_SEQ)
    return 0


_MAX_SEQ = 2**62  # SQLite's row ids are 64-bit: a number past this would end the outbox's sequence
