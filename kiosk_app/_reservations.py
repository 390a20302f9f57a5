"""The requests a shopper makes in one visit (a size brought to a fitting room, a product put
aside to collect) and their live state: plain Python over a ``Visit``, no I/O.

A request goes through three steps, each an input of this module:

- ``check_request``: whether the kiosk asks HQ at all: the size must be free here now (by
  the stock the screens show), collecting is for a signed-in shopper, and a visit holds
  only a few requests at once and never the same one twice (a child pressing the button
  ten times asks once);
- ``start_request`` / ``take_answer``: the ask is in the visit at once (the screen says
  "asking"), then HQ's answer fills it: the reservation, or why none (``out_of_stock``...),
  or ``no_answer`` when HQ was out of reach;
- ``take_update``: HQ says a request made here moved on (staff took it, it is ready). An
  update is taken only for the visit it names and only when its ``stamp`` is newer than
  what the visit shows; one for a reservation the visit has no answer for yet (the answer
  was lost, or comes later) is kept, and the answer joins it.

Everything lives in the visit, so it ends with it: the next shopper sees none of it.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from kiosk_app.session import Visit
from kiosk_protocol import Reservation, ReservationKind, ReservationResponse, ReservationState, ReservationUpdate

MAX_ACTIVE_REQUESTS = 3  # per visit: what one shopper can try on or put aside at once
NO_ANSWER = "no_answer"  # HQ did not answer in time (offline, or slow)
_NOT_YET = -1  # the stamp of a reservation known from HQ's answer only: any update is newer


class RequestRefusal(enum.Enum):
    """Why the kiosk did not ask HQ."""

    NOT_NOW = "not_now"  # no shopper's visit on (staff mode, locked)
    UNKNOWN_PRODUCT = "unknown_product"  # not in this store's catalog, or no such size
    NONE_FREE = "none_free"  # the size shows no unit free here
    SIGN_IN_FIRST = "sign_in_first"  # collecting is for a signed-in shopper
    ALREADY_ASKED = "already_asked"  # the same request is on already
    TOO_MANY = "too_many"  # the visit holds as many requests as it may


class UpdateVerdict(enum.Enum):
    """What became of an update HQ sent."""

    APPLIED = "applied"
    NOT_THIS_VISIT = "not_this_visit"  # another visit's, or an ended one's
    OUTDATED = "outdated"  # not newer than what the visit shows


@dataclass
class VisitRequest:
    """One ask made in the visit, and where it stands."""

    ask_id: uuid.UUID
    sku: str
    size: str
    kind: ReservationKind
    reservation: Reservation | None = None  # HQ's, once it answered or updated
    error: str | None = None  # why HQ made none: its word, or ``NO_ANSWER``
    stamp: int = _NOT_YET  # of the newest update taken

    @property
    def waiting(self) -> bool:
        """Asked, and neither an answer nor an update yet."""
        return self.reservation is None and self.error is None

    @property
    def active(self) -> bool:
        """Asking, or holding a unit (held, taken, ready)."""
        return self.waiting or (self.reservation is not None and self.reservation.state.holds_stock)


def check_request(visit: Visit, shopper_visit: bool, sku: str, size: str, kind: ReservationKind,
                  free: dict[str, int] | None) -> RequestRefusal | None:
    """Why the kiosk should not ask HQ for this hold, or None when it may.

    Args:
        shopper_visit: whether a shopper's visit is on (not staff mode, not locked).
        free: the units free per size of ``sku`` here, as the screens show them (None: not sold here).
    """
    if not shopper_visit:
        return RequestRefusal.NOT_NOW
    if free is None or size not in free:
        return RequestRefusal.UNKNOWN_PRODUCT
    if free[size] <= 0:
        return RequestRefusal.NONE_FREE
    if kind is ReservationKind.COLLECT and (visit.shopper is None or visit.card_token is None):
        return RequestRefusal.SIGN_IN_FIRST
    active = [request for request in visit.requests if request.active]
    if any((request.sku, request.size, request.kind) == (sku, size, kind) for request in active):
        return RequestRefusal.ALREADY_ASKED
    if len(active) >= MAX_ACTIVE_REQUESTS:
        return RequestRefusal.TOO_MANY
    return None


def start_request(visit: Visit, sku: str, size: str, kind: ReservationKind) -> VisitRequest:
    """The ask is in the visit, waiting for HQ's answer."""
    request = VisitRequest(uuid.uuid4(), sku, size, kind)
    visit.requests.append(request)
    return request


def take_answer(visit: Visit, session: uuid.UUID, ask_id: uuid.UUID, answer: ReservationResponse | None) -> bool:
    """HQ's answer to the ask ``ask_id`` made in visit ``session`` (None: none in time); False if that visit is over."""
    request = next((request for request in visit.requests if request.ask_id == ask_id), None)
    if visit.id != session or request is None:
        return False
    if answer is None:
        request.error = NO_ANSWER
    elif answer.reservation is None:
        request.error = answer.error
    else:
        request.error = None
        updated = _tracking(visit, answer.reservation.reservation_id)
        if updated is not None and updated is not request:  # an update came first: it is newer than the answer
            visit.requests.remove(updated)
            request.reservation, request.stamp = updated.reservation, updated.stamp
        elif request.reservation is None:
            request.reservation = answer.reservation
    return True


def take_update(visit: Visit, update: ReservationUpdate) -> UpdateVerdict:
    """A request of visit ``update.session`` moved on: shown if it is this visit's and newer than what it shows."""
    if visit.id != update.session:
        return UpdateVerdict.NOT_THIS_VISIT
    reservation = update.reservation
    request = _tracking(visit, reservation.reservation_id)
    if request is None:  # HQ's answer was lost or is still on its way: the update stands for it
        request = VisitRequest(uuid.uuid4(), reservation.sku, reservation.size, reservation.kind)
        visit.requests.append(request)
    elif update.stamp <= request.stamp:
        return UpdateVerdict.OUTDATED
    request.reservation, request.stamp, request.error = reservation, update.stamp, None
    return UpdateVerdict.APPLIED


def latest_for(visit: Visit, sku: str) -> tuple[VisitRequest, ...]:
    """The visit's requests for ``sku``, oldest first (what its product screen shows)."""
    return tuple(request for request in visit.requests if request.sku == sku)


def held_for_shopper(visit: Visit) -> tuple[Reservation, ...]:
    """The reservations the welcome lists: the shopper's at this store from their profile (kept
    current by HQ's push) and those made in this visit, each once as it stands now, the ones
    that hold no stock any more left out; the profile's first, then this visit's, oldest first."""
    current: dict[uuid.UUID, Reservation] = dict(visit.reservations)
    for request in visit.requests:
        made = request.reservation
        held = current.get(made.reservation_id) if made is not None else None
        if made is not None and (held is None or _STATE_ORDER.index(made.state) >= _STATE_ORDER.index(held.state)):
            current[made.reservation_id] = made  # the live update is at least as far along as the profile's
    return tuple(reservation for reservation in current.values() if reservation.state.holds_stock)


_STATE_ORDER = list(ReservationState)  # held, taken, ready, then the ends: a reservation only moves on


def _tracking(visit: Visit, reservation_id: uuid.UUID) -> VisitRequest | None:
    return next((request for request in visit.requests
                 if request.reservation is not None and request.reservation.reservation_id == reservation_id), None)
