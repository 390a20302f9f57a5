"""The kiosk's reservation desk: asks HQ for holds off the screen's thread and brings HQ's
answers, updates, stock levels and open requests onto it, into the visit
(``_reservations``) and the store's state (``_store_state``), telling the screens what
changed. All the deciding is in those two modules; this one only moves work between
threads.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kiosk_app._reservations import (
    NO_ANSWER,
    RequestRefusal,
    UpdateVerdict,
    check_request,
    start_request,
    take_answer,
    take_update,
)
from kiosk_app._store_state import LevelVerdict, StoreState
from kiosk_app.session import SessionMachine
from kiosk_protocol import Catalog, ReservationKind, ReservationResponse, ReservationUpdate, StockLevel, StoreRequests

log = logging.getLogger(__name__)

# The link's ``request_reservation``: (session, sku, size, kind, shopper, card token, request id) -> HQ's
# answer, or None when none came in time (a later one comes to ``heard_late_answer``).
RequestReservation = Callable[[uuid.UUID, str, str, ReservationKind, str | None, str | None, uuid.UUID],
                              ReservationResponse | None]
Dispatch = Callable[[Callable[[], None]], None]


class StoreNewsKind(enum.Enum):
    """What changed, for the screens."""

    VISIT_REQUESTS = "visit_requests"  # the visit's requests (asked, answered, moved on)
    STOCK = "stock"  # one product's free units (``sku``)
    OPEN_REQUESTS = "open_requests"  # the store's open requests, for staff


@dataclass(frozen=True)
class StoreNews:
    """One change the screens may show."""

    kind: StoreNewsKind
    sku: str | None = None


@dataclass
class DeskCounters:
    """What the desk did, for staff and tests."""

    asked: int = 0
    refused_here: int = 0  # not asked: ``check_request`` said why
    answered: int = 0
    unanswered: int = 0  # HQ out of reach or too slow
    answers_too_late: int = 0  # the visit had ended (HQ's hold expires on its own)
    late_answers: int = 0  # came after the wait gave up, and filled the ask
    updates_applied: int = 0
    updates_not_this_visit: int = 0
    updates_outdated: int = 0


class ReservationDesk:
    """Asks HQ for holds for the current visit and keeps the store's figures current.

    Args:
        request: asks HQ (the link's ``request_reservation``), on a thread of its own.
        machine: the kiosk's mode and visit, read and changed on the screen's thread only.
        catalog: the catalog in use, read when asked.
        store: the kiosk's store.
        dispatch: runs work on the screen's thread.
        on_news: told on the screen's thread what changed.
    """

    def __init__(self, request: RequestReservation, machine: SessionMachine, catalog: Callable[[], Catalog],
                 store: str, dispatch: Dispatch, on_news: Callable[[StoreNews], None]) -> None:
        self._request, self._machine, self._catalog = request, machine, catalog
        self._dispatch, self._on_news = dispatch, on_news
        self.store = StoreState(store)
        self.counters = DeskCounters()

    def free_units(self, sku: str) -> dict[str, int] | None:
        """Units free per size of ``sku`` here (HQ's figures once they came); None if not sold here."""
        product = self._catalog().product(sku)
        if product is None or not product.sold_in(self.store.store):
            return None
        return self.store.free_units(product)

    def reserve(self, sku: str, size: str, kind: ReservationKind) -> RequestRefusal | None:
        """On the screen's thread: ask HQ to hold ``sku`` in ``size`` for the visit; None once asked, else why not.

        The ask is in ``machine.visit.requests`` at once; HQ's answer follows as news.
        """
        visit = self._machine.visit
        refusal = check_request(visit, self._machine.takes_shopper_taps, sku, size, kind, self.free_units(sku))
        if refusal is not None:
            self.counters.refused_here += 1
            log.info("no %s request for %s %s: %s", kind.value, sku, size, refusal.value)
            return refusal
        self._machine.touch()
        ask = start_request(visit, sku, size, kind)
        self.counters.asked += 1
        card = visit.card_token
        shopper = visit.shopper if card else None  # a shopper is named only with their card's proof

        def ask_hq() -> None:
            answer = self._request(visit.id, sku, size, kind, shopper, card, ask.ask_id)
            self._dispatch(lambda: self._take_answer(visit.id, ask.ask_id, answer))

        threading.Thread(target=ask_hq, name="reservation-request", daemon=True).start()
        self._on_news(StoreNews(StoreNewsKind.VISIT_REQUESTS))
        return None

    # The link's receivers, on paho's thread: each moves to the screen's thread.

    def heard_update(self, update: ReservationUpdate) -> None:
        """HQ says a request made at this kiosk moved on."""
        self._dispatch(lambda: self._take_update(update))

    def heard_level(self, level: StockLevel) -> None:
        """HQ's free units of one product in the store."""
        self._dispatch(lambda: self._take_level(level))

    def heard_requests(self, requests: StoreRequests) -> None:
        """HQ's list of the store's open requests."""
        self._dispatch(lambda: self._take_requests(requests))

    def heard_late_answer(self, answer: ReservationResponse) -> None:
        """HQ's answer to an ask the wait gave up on: it fills the ask if its visit is still on."""
        self._dispatch(lambda: self._take_late_answer(answer))

    def _take_late_answer(self, answer: ReservationResponse) -> None:
        visit = self._machine.visit
        ask = next((request for request in visit.requests if request.ask_id == answer.request_id), None)
        if ask is None or ask.error != NO_ANSWER:  # another visit's, or answered already
            self.counters.answers_too_late += 1
            return
        take_answer(visit, visit.id, ask.ask_id, answer)
        self.counters.late_answers += 1
        self._on_news(StoreNews(StoreNewsKind.VISIT_REQUESTS))

    def _take_answer(self, session: uuid.UUID, ask_id: uuid.UUID, answer: ReservationResponse | None) -> None:
        if answer is None:
            self.counters.unanswered += 1
        else:
            self.counters.answered += 1
        if not take_answer(self._machine.visit, session, ask_id, answer):
            self.counters.answers_too_late += 1  # HQ's hold expires on its own
            return
        self._on_news(StoreNews(StoreNewsKind.VISIT_REQUESTS))

    def _take_update(self, update: ReservationUpdate) -> None:
        verdict = take_update(self._machine.visit, update)
        counters = self.counters
        if verdict is UpdateVerdict.APPLIED:
            counters.updates_applied += 1
            self._on_news(StoreNews(StoreNewsKind.VISIT_REQUESTS))
        elif verdict is UpdateVerdict.NOT_THIS_VISIT:
            counters.updates_not_this_visit += 1
        else:
            counters.updates_outdated += 1

    def _take_level(self, level: StockLevel) -> None:
        if self.store.take_level(level) is LevelVerdict.APPLIED:
            self._on_news(StoreNews(StoreNewsKind.STOCK, level.sku))

    def _take_requests(self, requests: StoreRequests) -> None:
        if self.store.take_requests(requests) is LevelVerdict.APPLIED:
            self._on_news(StoreNews(StoreNewsKind.OPEN_REQUESTS))
