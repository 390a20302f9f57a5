"""HQ answers kiosks' profile and hand-off requests (MQTT 5 request/response) and tells
the fleet when a profile has been erased.

A kiosk may ask only for the shopper whose signed card was tapped on it: the request
carries the card token, and HQ checks its signature and that it names that shopper.
A hand-off request gets a signed link to continue the visit on a phone (``_handoff``),
for the store and kiosk of the topic it came on. Every answer goes to the asking kiosk's
own response topic, whatever response topic the request names, so no kiosk can route
another's answers to itself.

Reservation requests (``_reservation_desk``) are answered on the same connection, to the
asking kiosk's own reservation response topic.

A version 2 request that names its visit also tells HQ where the shopper stands now
(``_presence``), for the live push of their profile's changes (``_pusher``, which
publishes through this responder's connection); the kiosk's word that the visit ended
(``profile/ended``) and its offline status or last will end that stay. Both come from the
kiosk's own topics, which only it may publish on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from backend_sync import BrokerUrl, MessageHandler, MqttClient, publish_once
from hq._handoff import HandoffSigner
from hq._orders import order_summary
from hq._reservation_desk import ReservationDesk, kiosk_reservation
from hq._reservations import Reservation as StoredReservation
from hq._store import ProfileStore, shopper_key
from kiosk_protocol import (
    COUPONS_SINCE_REQUEST,
    FLEET_COMMANDS,
    HANDOFF_REQUESTS_WILDCARD,
    MAX_COUPONS,
    MAX_ORDERS,
    MAX_RESERVATIONS,
    ORDERS_SINCE_REQUEST,
    PROFILE_ENDED_WILDCARD,
    PROFILE_REQUESTS_WILDCARD,
    RESERVATION_REQUESTS_WILDCARD,
    STATUS_WILDCARD,
    CardRefused,
    CardVerifier,
    CommandKind,
    ContractError,
    DisplayName,
    HandoffRequest,
    KioskCommand,
    LinkState,
    MessageTooLarge,
    OrderSummary,
    ProfileRequest,
    ProfileResponse,
    Reservation,
    ReservationRequest,
    ReservationTopics,
    VisitEnded,
    decode,
    decode_status,
    kiosk_topics,
    shopper_hash,
)

log = logging.getLogger(__name__)

RECENT_VIEWS = 20
_DISPLAY_NAME: TypeAdapter[str] = TypeAdapter(DisplayName)
_Request = TypeVar("_Request", bound=BaseModel)


@dataclass
class ResponderStats:
    """What the responder has done since it started."""

    answered: int = 0
    refused: int = 0
    rejected: int = 0
    oversized: int = 0  # of the rejected: larger than a request may be, refused unread
    links_signed: int = 0  # hand-off links
    links_refused: int = 0  # hand-off requests naming a shopper whose card did not check out
    connects: int = 0  # to the broker: more than one means it lost its connection at some point
    names_left_out: int = 0  # display names a kiosk could not show as written, answered without
    visits_started: int = 0  # stays recorded for the live push
    visits_ended: int = 0  # stays a kiosk ended: its word, or its going offline


class ProfileResponder:
    """Serves profile requests from every kiosk out of ``store``, hand-off requests when given
    ``handoff``, and kiosks' holds unless ``holds`` is False (another desk answers them)."""

    def __init__(self, broker_url: str, store: ProfileStore, verify_card: CardVerifier,
                 client_id: str = "hq-profiles", handoff: HandoffSigner | None = None, holds: bool = True) -> None:
        self.broker = BrokerUrl.parse(broker_url)
        self.store = store
        self.stats = ResponderStats()
        self._verify_card = verify_card
        self._handoff = handoff
        # Kiosks' holds, answered on this connection (or by another desk: none here).
        self.reservations = ReservationDesk(store, verify_card) if holds else None
        handlers: dict[str, MessageHandler] = {PROFILE_REQUESTS_WILDCARD: self._on_request,
                                               PROFILE_ENDED_WILDCARD: self._on_visit_ended,
                                               STATUS_WILDCARD: self._on_status}
        if self.reservations is not None:
            handlers[RESERVATION_REQUESTS_WILDCARD] = self._reservation_handler(self.reservations)
        if handoff is not None:
            handlers[HANDOFF_REQUESTS_WILDCARD] = self._on_handoff
        self._client = MqttClient(self.broker, self.broker.username or client_id, role="the profile responder",
                                  subscriptions=list(handlers), handlers=handlers, on_connect=self._count_connect)
        self.subscribed = self._client.subscribed

    def start(self) -> None:
        """Connect (retrying in the background) and answer on paho's thread."""
        self._client.start()

    def stop(self) -> None:
        """Disconnect."""
        self._client.stop()

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0,
                properties: Mapping[str, Any] | None = None, retain: bool = False) -> None:
        """Publish one QoS 1 message through the responder's own connection and wait for its PUBACK.

        Raises:
            SyncError: the broker is out of reach or did not acknowledge in time.
        """
        self._client.publish_and_wait(topic, payload, timeout_s=timeout_s, properties=properties, retain=retain)

    def _count_connect(self) -> None:
        self.stats.connects += 1

    def _on_request(self, message: mqtt.MQTTMessage) -> None:
        taken = self._take(message, ProfileRequest)
        if taken is not None:
            store, kiosk, request = taken
            self._reply(message, kiosk_topics(store, kiosk).profile_response, self._answer(request, store, kiosk),
                        request)

    def _reservation_handler(self, desk: ReservationDesk) -> MessageHandler:
        def handle(message: mqtt.MQTTMessage) -> None:
            taken = self._take(message, ReservationRequest)
            if taken is not None:
                store, kiosk, request = taken
                self._reply(message, ReservationTopics(store, kiosk).response, desk.answer(store, kiosk, request),
                            request)

        return handle

    def _on_handoff(self, message: mqtt.MQTTMessage) -> None:
        taken = self._take(message, HandoffRequest)
        if taken is None or self._handoff is None:
            return
        store, kiosk, request = taken
        response = self._handoff.answer(store, kiosk, request)
        if response.error:
            self.stats.links_refused += 1
            log.warning("refused a hand-off link to %s/%s: %s", store, kiosk, response.error)
        else:
            self.stats.links_signed += 1
        self._reply(message, kiosk_topics(store, kiosk).handoff_response, response, request)

    def _take(self, message: mqtt.MQTTMessage, kind: type[_Request]) -> tuple[str, str, _Request] | None:
        """The store and kiosk of the request's topic, and the request; None (counted, logged) when unfit."""
        parts = message.topic.split("/")
        try:
            kiosk_topics(parts[1], parts[2])
            return parts[1], parts[2], decode(kind, bytes(message.payload))
        except (ContractError, IndexError) as exc:
            self.stats.rejected += 1
            self.stats.oversized += isinstance(exc, MessageTooLarge)
            log.warning("rejected a %s on %s: %s", kind.__name__, message.topic, exc)
            return None

    def _reply(self, message: mqtt.MQTTMessage, reply_to: str, response: BaseModel,
               request: ProfileRequest | HandoffRequest | ReservationRequest) -> None:
        correlation = getattr(message.properties, "CorrelationData", request.request_id.bytes)
        self._client.publish(reply_to, response.model_dump_json().encode(), properties={"CorrelationData": correlation})

    def _answer(self, request: ProfileRequest, store: str, kiosk: str) -> ProfileResponse:
        """The answer, in the version the kiosk asked in (one from before display names reads only version 1,
        one from before coupons only version 2)."""
        refusal = self._card_refusal(request)
        if refusal is not None:
            self.stats.refused += 1
            return ProfileResponse(v=request.v, request_id=request.request_id, shopper=request.shopper, error=refusal)
        cursor = None
        if request.v >= 2:
            if request.session is not None:  # first: a change stored after the profile is read is pushed
                self._arrive(request.shopper, store, kiosk, str(request.session), request.v)
            cursor = self.store.changes.latest()  # before the read: every change up to it is in the profile
        profile = self.store.profile(request.shopper, history_limit=200)
        recent = list(dict.fromkeys(e.sku for e in reversed(profile.views) if e.sku))
        self.stats.answered += 1
        return ProfileResponse(v=request.v, request_id=request.request_id, shopper=request.shopper,
                               consent=profile.consent, recent_skus=tuple(recent[:RECENT_VIEWS]),
                               wishlist=tuple(profile.wishlist), preferences=profile.preferences,
                               display_name=self._display_name(request.shopper) if request.v >= 2 else None,
                               cursor=cursor, coupons=self._coupons(request), orders=self._orders(request),
                               reservations=self._reservations(request, store, profile.reservations))

    def _orders(self, request: ProfileRequest) -> tuple[OrderSummary, ...]:
        """The shopper's newest orders, for a kiosk that reads them."""
        if request.v < ORDERS_SINCE_REQUEST:
            return ()
        return tuple(order_summary(order) for order in self.store.orders.of(shopper_key(request.shopper), MAX_ORDERS))

    def _reservations(self, request: ProfileRequest, store: str,
                      active: list[StoredReservation]) -> tuple[Reservation, ...]:
        """The shopper's open reservations at the asking kiosk's store (newest first), for a kiosk that reads them."""
        if request.v < ORDERS_SINCE_REQUEST:
            return ()
        return tuple(kiosk_reservation(r) for r in active if r.store == store)[:MAX_RESERVATIONS]

    def _coupons(self, request: ProfileRequest) -> tuple[str, ...]:
        """The shopper's coupons with redemptions left, for a kiosk that reads them (the newest saved last)."""
        if request.v < COUPONS_SINCE_REQUEST:
            return ()
        return tuple(self.store.coupons.left_of(shopper_key(request.shopper))[-MAX_COUPONS:])

    def _display_name(self, shopper: str) -> str | None:
        """The name to greet ``shopper`` by, when HQ holds one a kiosk can show as written."""
        name = self.store.display_name_of(shopper)
        if name is None:
            return None
        try:
            return _DISPLAY_NAME.validate_python(name)
        except ValidationError:
            self.stats.names_left_out += 1
            log.warning("a shopper's display name does not fit the profile contract: answered without it")
            return None

    def _card_refusal(self, request: ProfileRequest) -> str | None:
        try:
            card_holder = self._verify_card(request.token)
        except CardRefused as exc:
            return f"card refused: {exc}"
        return None if card_holder == request.shopper else "the card does not belong to this shopper"

    def _arrive(self, shopper: str, store: str, kiosk: str, session: str, v: int) -> None:
        try:
            self.store.presence.arrive(shopper, store, kiosk, session, v)
            self.stats.visits_started += 1
        except SQLAlchemyError as exc:  # the profile is still answered; only its live push is lost
            log.error("cannot record that a shopper is at %s/%s: %s", store, kiosk, exc)

    def _on_visit_ended(self, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        try:
            ended = decode(VisitEnded, bytes(message.payload))
        except ContractError as exc:
            self.stats.rejected += 1
            self.stats.oversized += isinstance(exc, MessageTooLarge)
            log.warning("rejected a visit's end on %s: %s", message.topic, exc)
            return
        self._leave(parts[1], parts[2], str(ended.session))

    def _on_status(self, message: mqtt.MQTTMessage) -> None:
        """A kiosk gone offline (its word or its last will) has no shopper at it any more."""
        parts = message.topic.split("/")
        try:
            status = decode_status(bytes(message.payload))
        except ContractError:  # the fleet view counts and reports bad statuses
            return
        if status.state is LinkState.OFFLINE and (status.store, status.kiosk) == (parts[1], parts[2]):
            self._leave(status.store, status.kiosk)

    def _leave(self, store: str, kiosk: str, session: str | None = None) -> None:
        try:
            self.stats.visits_ended += self.store.presence.leave(store, kiosk, session)
        except SQLAlchemyError as exc:  # the stay ends at its bound instead
            log.error("cannot record that the visit at %s/%s ended: %s", store, kiosk, exc)


def tell_fleet_to_forget(broker: str | ProfileResponder, shopper: str, client_id: str = "hq-erase",
                         timeout_s: float = 10.0) -> None:
    """Tell every kiosk to drop what it caches of ``shopper`` (after an erase at HQ).

    ``broker`` is a broker URL (a connection just for this, as ``client_id``) or, in a
    process that runs one, HQ's responder, whose own connection then carries it.

    Raises:
        SyncError: the broker could not be reached in time.
    """
    payload = KioskCommand(command=CommandKind.FORGET_SHOPPER, shopper_hash=shopper_hash(shopper)).model_dump_json()
    if isinstance(broker, ProfileResponder):
        broker.publish(FLEET_COMMANDS, payload.encode(), timeout_s=timeout_s)
    else:
        publish_once(broker, FLEET_COMMANDS, payload.encode(), client_id=client_id, timeout_s=timeout_s)
