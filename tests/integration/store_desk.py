"""HQ's reservation side as the kiosk's tests play it, over a real Mosquitto: it answers each
``ReservationRequest`` with a real ``ReservationResponse`` (one unit held while any is
free, ``out_of_stock`` when none is), keeps each product's ``StockLevel`` retained, and
moves requests on as staff would (``ReservationUpdate`` to the kiosk that made them,
``StoreRequests`` for the store). HQ's own side is tested on its own; an end-to-end test
joins the two.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt

from backend_sync import BrokerUrl, MqttClient
from kiosk_protocol import (
    RESERVATION_REQUESTS_WILDCARD,
    OpenRequest,
    Reservation,
    ReservationKind,
    ReservationRequest,
    ReservationResponse,
    ReservationState,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    decode,
    stock_topic,
    store_requests_topic,
)

HOLD_FOR = {ReservationKind.FITTING_ROOM: timedelta(minutes=20), ReservationKind.COLLECT: timedelta(days=2)}


@dataclass
class _Held:
    kiosk: str
    session: uuid.UUID
    reservation: Reservation
    created_at: datetime


class StoreDesk:
    """One store's stock and requests, answering its kiosks.

    Args:
        units: free units per SKU and size.
        answering: whether it answers requests at once (False: they wait for ``answer_waiting``, as
            when HQ is out of reach or slower than the kiosk's wait).
    """

    def __init__(self, broker_url: str, store: str, units: dict[str, dict[str, int]], answering: bool = True) -> None:
        self.store, self.units, self.answering = store, {sku: dict(sizes) for sku, sizes in units.items()}, answering
        self.requests: list[ReservationRequest] = []
        self.held: dict[uuid.UUID, _Held] = {}
        self.stamp = 0
        self.asked = threading.Event()  # set at each request taken
        self._unanswered: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._client = MqttClient(BrokerUrl.parse(broker_url), f"store-desk-{uuid.uuid4().hex[:8]}",
                                  role="the store's desk", subscriptions=(RESERVATION_REQUESTS_WILDCARD,),
                                  handlers={RESERVATION_REQUESTS_WILDCARD: self._on_request}, persistent=False)

    def start(self) -> None:
        self._client.start()
        assert self._client.subscribed.wait(10)

    def stop(self) -> None:
        self._client.stop()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish anything, hostile or not, and wait for the broker's PUBACK."""
        self._client.publish_and_wait(topic, payload, retain=retain)

    def publish_level(self, sku: str) -> StockLevel:
        """The free units of ``sku`` now, retained for the store's kiosks."""
        with self._lock:
            self.stamp += 1
            level = StockLevel(store=self.store, sku=sku, stamp=self.stamp, available=self.units[sku])
        self.publish(stock_topic(self.store, sku), level.model_dump_json().encode(), retain=True)
        return level

    def publish_requests(self, others: int = 0) -> StoreRequests:
        """The store's open requests, retained for its kiosks' staff mode; with ``others`` made earlier
        elsewhere (online, at kiosk-02...), each a few minutes older than the one after it."""
        now = datetime.now(UTC)
        elsewhere = [OpenRequest(reservation_id=uuid.uuid4(), kiosk=f"kiosk-{n + 1:02d}" if n else None,
                                 sku="COAT-WOOL-GRY", size="M", kind=ReservationKind.FITTING_ROOM,
                                 state=ReservationState.TAKEN if n % 2 else ReservationState.HELD,
                                 created_at=now - timedelta(minutes=4 * (others - n) + 3)) for n in range(others)]
        with self._lock:
            self.stamp += 1
            listed = StoreRequests(store=self.store, stamp=self.stamp, requests=(*elsewhere, *(
                OpenRequest(reservation_id=held.reservation.reservation_id, kiosk=held.kiosk,
                            sku=held.reservation.sku, size=held.reservation.size, kind=held.reservation.kind,
                            state=held.reservation.state, created_at=held.created_at, note=held.reservation.note)
                for held in self.held.values() if held.reservation.state.holds_stock)))
        self.publish(store_requests_topic(self.store), listed.model_dump_json().encode(), retain=True)
        return listed

    def move_on(self, reservation_id: uuid.UUID, state: ReservationState, note: str | None = None,
                stamp: int | None = None, session: uuid.UUID | None = None) -> ReservationUpdate:
        """Staff move a request on: its kiosk hears of it (``stamp``/``session`` given: as told, for hostile cases)."""
        with self._lock:
            held = self.held[reservation_id]
            if stamp is None:
                self.stamp += 1
            held.reservation = held.reservation.model_copy(update={"state": state, "note": note})
            update = ReservationUpdate(session=session or held.session, stamp=self.stamp if stamp is None else stamp,
                                       reservation=held.reservation)
            if not state.holds_stock:
                self.units[held.reservation.sku][held.reservation.size] += state is not ReservationState.COLLECTED
        self.publish(f"kiosk/{self.store}/{held.kiosk}/reservation/changes", update.model_dump_json().encode())
        return update

    def created(self, count: int) -> bool:
        """Whether ``count`` reservations have been made."""
        return len(self.held) >= count

    def answer_waiting(self) -> None:
        """Answer, late, the requests held back while not answering."""
        waiting, self._unanswered = self._unanswered, []
        for message in waiting:
            self._answer(message)

    def _on_request(self, message: mqtt.MQTTMessage) -> None:
        self.requests.append(decode(ReservationRequest, bytes(message.payload)))
        self.asked.set()
        if self.answering:
            self._answer(message)
        else:
            self._unanswered.append(message)

    def _answer(self, message: mqtt.MQTTMessage) -> None:
        kiosk = message.topic.split("/")[2]
        request = decode(ReservationRequest, bytes(message.payload))
        with self._lock:
            sizes = self.units.get(request.sku, {})
            if request.size not in sizes:
                answer = ReservationResponse(request_id=request.request_id, error="unknown_product")
            elif sizes[request.size] <= 0:
                answer = ReservationResponse(request_id=request.request_id, error="out_of_stock")
            else:
                sizes[request.size] -= 1
                now = datetime.now(UTC)
                held = Reservation(reservation_id=uuid.uuid4(), sku=request.sku, size=request.size, kind=request.kind,
                                   state=ReservationState.HELD, expires_at=now + HOLD_FOR[request.kind])
                self.held[held.reservation_id] = _Held(kiosk, request.session, held, now)
                answer = ReservationResponse(request_id=request.request_id, reservation=held)
        self._client.publish(message.properties.ResponseTopic, answer.model_dump_json().encode(),
                             properties={"CorrelationData": message.properties.CorrelationData})
