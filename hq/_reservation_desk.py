"""HQ's answers to the reservation requests kiosks send over MQTT (``ReservationRequest`` ->
``ReservationResponse``), on the profile responder's connection.

- **Its own store only.** The store and kiosk are the request topic's, and the broker's ACL
  lets a kiosk publish on its own topic only: a request names no store, so none can reach
  another store's stock.
- **A shopper's card.** A request naming a shopper (every collect request) carries their
  card's token, checked as for a profile request: a card that does not check out, or an
  erased shopper, is ``refused``.
- **Once per request.** A request sent again (QoS 1 may deliver it twice) is answered with
  the reservation it made, not a second hold.
- **Answers.** The reservation (its state ``held``), or an error: ``out_of_stock``,
  ``unknown_product``, ``refused``, ``store_unavailable`` (HQ's database out of reach).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from hq._reservations import Reservation, ReservationRefused
from hq._store import ProfileStore
from kiosk_protocol import (
    CardRefused,
    CardVerifier,
    ReservationRequest,
    ReservationResponse,
    channel_of,
)
from kiosk_protocol import Reservation as KioskReservation

log = logging.getLogger(__name__)

ANSWERED_ERRORS = ("out_of_stock", "unknown_product")  # the hold's own refusals, passed on as they are


@dataclass
class DeskStats:
    """What the desk has answered since it started."""

    held: int = 0  # reservations made
    repeated: int = 0  # requests sent again, answered with the reservation they made
    out_of_stock: int = 0
    unknown_product: int = 0
    refused: int = 0  # a card that did not check out, an erased shopper, a request id of another kiosk's
    store_unavailable: int = 0  # HQ's database did not answer


def kiosk_reservation(made: Reservation) -> KioskReservation:
    """A reservation as the kiosk's contract carries it."""
    return KioskReservation(reservation_id=uuid.UUID(made.reservation_id), sku=made.sku, size=made.size,
                            kind=made.kind, state=made.state, expires_at=made.expires_at,
                            note=made.note[:80] if made.note else None)


class ReservationDesk:
    """Answers one kiosk's reservation request out of ``store``'s stock (pure of MQTT: the responder carries it)."""

    def __init__(self, store: ProfileStore, verify_card: CardVerifier) -> None:
        self._profiles = store
        self._verify_card = verify_card
        self.stats = DeskStats()

    def answer(self, store: str, kiosk: str, request: ReservationRequest) -> ReservationResponse:
        """Hold a unit for ``request`` made at ``store``/``kiosk``, or say why not."""
        try:
            return ReservationResponse(request_id=request.request_id, reservation=kiosk_reservation(
                self._hold(store, kiosk, request)))
        except _Refused as exc:
            setattr(self.stats, exc.error, getattr(self.stats, exc.error) + 1)
            log.info("reservation request %s at %s/%s: %s (%s)", request.request_id, store, kiosk, exc.error,
                     exc.detail)
            return ReservationResponse(request_id=request.request_id, error=exc.error)

    def _hold(self, store: str, kiosk: str, request: ReservationRequest) -> Reservation:
        request_id = request.request_id.hex
        try:
            earlier = self._profiles.reservations.by_request(request_id)
            if earlier is not None:
                return self._repeated(earlier, store, kiosk)
            self._check_card(request)
            made = self._profiles.reservations.hold(
                store, request.sku, request.size, request.shopper, request.kind, None, channel_of(store, kiosk),
                kiosk=kiosk, session=str(request.session), request_id=request_id)
        except ReservationRefused as exc:
            if exc.error not in ANSWERED_ERRORS:
                raise _Refused("refused", exc.detail) from exc
            raise _Refused(exc.error, exc.detail) from exc
        except SQLAlchemyError as exc:
            earlier = self._earlier(request_id)  # a rival delivery of the same request that won the insert
            if earlier is not None:
                return self._repeated(earlier, store, kiosk)
            raise _Refused("store_unavailable", f"HQ's database: {type(exc).__name__}") from exc
        self.stats.held += 1
        return made

    def _check_card(self, request: ReservationRequest) -> None:
        if request.shopper is None or request.token is None:
            return  # an anonymous fitting-room request
        try:
            holder = self._verify_card(request.token)
        except CardRefused as exc:
            raise _Refused("refused", f"card refused: {exc}") from exc
        if holder != request.shopper:
            raise _Refused("refused", "the card does not belong to this shopper")
        if self._profiles.is_erased(request.shopper):
            raise _Refused("refused", "the shopper's profile was erased")

    def _repeated(self, earlier: Reservation, store: str, kiosk: str) -> Reservation:
        if (earlier.store, earlier.kiosk) != (store, kiosk):
            raise _Refused("refused", "that request id is another kiosk's")
        self.stats.repeated += 1
        return earlier

    def _earlier(self, request_id: str) -> Reservation | None:
        try:
            return self._profiles.reservations.by_request(request_id)
        except SQLAlchemyError:
            return None


class _Refused(Exception):
    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error, self.detail = error, detail
