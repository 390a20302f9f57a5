"""What the screens say of requests, reservations and orders, worked out from plain data: no Kivy.

The product screen says where each of the visit's requests for the product in view
stands ("Size 40 · fitting room: on its way to fitting room 2"); the welcome lists the
shopper's reservations in this store and recent orders; staff mode lists the store's
open requests, oldest first, with how long each has waited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from kiosk_app._reservations import NO_ANSWER, RequestRefusal, VisitRequest
from kiosk_app.ui.present import ONE_SIZE, money
from kiosk_app.ui.present_offers import day_text, local_day
from kiosk_app.ui.texts import texts_for
from kiosk_protocol import Catalog, OpenRequest, OrderSummary, Reservation, ReservationKind, ReservationState

MAX_STAFF_ROWS = 5  # what the staff screen has room for; the rest are counted
MAX_STAFF_ROWS_LARGE = 4  # in large text
MAX_WELCOME_LINES = 3  # per list on the welcome
_STATE_KEYS = {
    (ReservationKind.FITTING_ROOM, ReservationState.HELD): "request_fitting_held",
    (ReservationKind.FITTING_ROOM, ReservationState.TAKEN): "request_fitting_taken",
    (ReservationKind.FITTING_ROOM, ReservationState.READY): "request_fitting_ready",
    (ReservationKind.COLLECT, ReservationState.HELD): "request_collect_held",
    (ReservationKind.COLLECT, ReservationState.TAKEN): "request_collect_taken",
    (ReservationKind.COLLECT, ReservationState.READY): "request_collect_ready",
}
# Staff's note names the place ("probador 2"): said when staff gave one.
_WITH_NOTE = {"request_fitting_taken": "request_fitting_taken_to", "request_fitting_ready": "request_fitting_ready_in"}
_ENDED_KEYS = {ReservationState.COLLECTED: "request_collected", ReservationState.CANCELLED: "request_cancelled",
               ReservationState.EXPIRED: "request_expired"}
REFUSAL_TOASTS = {
    RequestRefusal.ALREADY_ASKED: "toast_request_already_asked",
    RequestRefusal.TOO_MANY: "toast_request_too_many",
    RequestRefusal.NONE_FREE: "toast_request_none_free",
    RequestRefusal.SIGN_IN_FIRST: "toast_request_sign_in_first",
    RequestRefusal.NOT_NOW: "toast_request_not_now",
    RequestRefusal.UNKNOWN_PRODUCT: "toast_unknown_product",
}


@dataclass(frozen=True)
class OpenRequestRow:
    """One open request as staff mode lists it."""

    where: str  # the kiosk it was made at, or "online"
    product: str
    size: str
    kind: str
    state: str
    waiting: str  # "12 min"
    ready: bool


def size_label(size: str, language: str) -> str:
    """A size as shoppers read it ("One size" for the catalog's ``U``)."""
    return texts_for(language)["size_one"] if size == ONE_SIZE else size


def size_phrase(size: str, language: str) -> str:
    """A size in a sentence: "size 40", "one size"."""
    texts = texts_for(language)
    return texts["request_one_size"] if size == ONE_SIZE else texts["request_size"].format(size=size)


def reservation_state_text(reservation: Reservation, language: str) -> str:
    """Where a reservation stands, in words, with staff's note where it names the place."""
    texts = texts_for(language)
    if (ended := _ENDED_KEYS.get(reservation.state)) is not None:
        return texts[ended]
    key = _STATE_KEYS[(reservation.kind, reservation.state)]
    if reservation.note and key in _WITH_NOTE:
        return texts[_WITH_NOTE[key]].format(note=reservation.note)
    return texts[key].format(until=_day(reservation.expires_at, language))


def request_state_text(request: VisitRequest, language: str) -> str:
    """Where one of the visit's requests stands: asking, HQ's word on it, or its reservation's state."""
    texts = texts_for(language)
    if request.reservation is not None:
        return reservation_state_text(request.reservation, language)
    if request.error is None:
        return texts["request_asking"]
    if request.error == "out_of_stock":
        return texts["request_out_of_stock"]
    return texts["request_no_answer" if request.error == NO_ANSWER else "request_refused"]


def request_lines(requests: Iterable[VisitRequest], language: str) -> str:
    """The visit's requests for one product, one a line, newest first: "Fitting room · size 40: ready in ..."."""
    return "\n".join(line for line, _trouble in request_line_list(requests, language))


def request_line_list(requests: Iterable[VisitRequest], language: str) -> list[tuple[str, bool]]:
    """Each of the newest few requests' line, and whether it went wrong (none free, no answer, ended unbought)."""
    texts = texts_for(language)
    lines = [(texts["request_line"].format(size=size_phrase(request.size, language),
                                           kind=texts[f"request_kind_{request.kind.value}"],
                                           state=request_state_text(request, language)), _went_wrong(request))
             for request in reversed(list(requests))]
    return lines[:MAX_WELCOME_LINES]


def _went_wrong(request: VisitRequest) -> bool:
    if request.error is not None:
        return True
    state = request.reservation.state if request.reservation is not None else None
    return state in (ReservationState.CANCELLED, ReservationState.EXPIRED)


def reservation_lines(reservations: Iterable[Reservation], catalog: Catalog, language: str) -> str:
    """The shopper's reservations in this store, one a line, for the welcome."""
    texts = texts_for(language)
    lines = []
    for reservation in reservations:
        product = catalog.product(reservation.sku)
        lines.append(texts["welcome_reservation_line"].format(
            product=product.name.get(language) if product else reservation.sku,
            size=size_phrase(reservation.size, language), state=reservation_state_text(reservation, language)))
    return "\n".join(lines[:MAX_WELCOME_LINES])


def order_lines(orders: Iterable[OrderSummary], catalog: Catalog, language: str) -> str:
    """The shopper's recent orders, newest first, one a line: "12 November · 2 items · €89.90 · online"."""
    texts = texts_for(language)
    stores = {store.id: store.name for store in catalog.stores}
    lines = []
    for order in sorted(orders, key=lambda order: order.at, reverse=True):
        items = texts["welcome_order_one_item"] if order.lines == 1 else texts["welcome_order_items"].format(
            count=order.lines)
        where = texts["welcome_order_online"] if order.store == "online" else stores.get(order.store, order.store)
        lines.append(texts["welcome_order_line"].format(date=_day(order.at, language), items=items,
                                                        total=money(order.total, catalog, language), where=where))
    return "\n".join(lines[:MAX_WELCOME_LINES])


def open_request_rows(requests: tuple[OpenRequest, ...], catalog: Catalog, language: str, now: datetime,
                      limit: int = MAX_STAFF_ROWS) -> tuple[tuple[OpenRequestRow, ...], int]:
    """The store's oldest ``limit`` open requests as staff mode lists them; and how many more there are."""
    texts = texts_for(language)
    rows = []
    for request in requests[:limit]:
        product = catalog.product(request.sku)
        minutes = max(0, int((now - request.created_at).total_seconds() // 60))
        rows.append(OpenRequestRow(
            where=request.kiosk or texts["staff_request_online"],
            product=product.name.get(language) if product else request.sku,
            size=size_label(request.size, language), kind=texts[f"staff_request_kind_{request.kind.value}"],
            state=texts.get(f"staff_request_state_{request.state.value}", request.state.value),
            waiting=texts["staff_request_waiting"].format(minutes=minutes),
            ready=request.state is ReservationState.READY))
    return tuple(rows), max(0, len(requests) - limit)


def _day(moment: datetime, language: str) -> str:
    """The day of ``moment`` by the kiosk's clock, as the shopper's language writes it."""
    return day_text(local_day(moment), language, local_day(datetime.now(UTC)))
