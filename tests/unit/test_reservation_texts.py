"""What the screens say of requests, reservations and orders, in both languages: each state in
words (staff's note where it names the place), HQ's refusal and its silence, the welcome's
lists (the profile's reservations and this visit's, each once as it stands now; orders
newest first) and staff's list of open requests with how long each has waited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kiosk_app._reservations import NO_ANSWER, VisitRequest, held_for_shopper, start_request
from kiosk_app.demo import demo_catalog_path
from kiosk_app.session import Visit
from kiosk_app.ui.present_reservations import (
    MAX_STAFF_ROWS,
    open_request_rows,
    order_lines,
    request_line_list,
    request_lines,
    reservation_lines,
)
from kiosk_protocol import OpenRequest, OrderSummary, Reservation, ReservationKind, ReservationState, load_catalog

CATALOG = load_catalog(demo_catalog_path())
BOOT, BAG = "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
FITTING, COLLECT = ReservationKind.FITTING_ROOM, ReservationKind.COLLECT
HELD, TAKEN, READY = ReservationState.HELD, ReservationState.TAKEN, ReservationState.READY


def held(kind: ReservationKind = FITTING, state: ReservationState = HELD, note: str | None = None,
         sku: str = BOOT, size: str = "40") -> Reservation:
    return Reservation(reservation_id=uuid.uuid4(), sku=sku, size=size, kind=kind, state=state,
                       expires_at=datetime(2026, 12, 3, 12, tzinfo=UTC), note=note)


def request_with(reservation: Reservation | None = None, error: str | None = None) -> VisitRequest:
    return VisitRequest(uuid.uuid4(), BOOT, "40", FITTING, reservation=reservation, error=error)


@pytest.mark.parametrize(("request_made", "language", "line"), [
    (request_with(), "es", "Probador · talla 40: pidiéndola…"),
    (request_with(held()), "en",
     "Fitting room · size 40: asked for: we'll bring it to a fitting room in a few minutes"),
    (request_with(held(state=TAKEN)), "es", "Probador · talla 40: de camino al probador"),
    (request_with(held(state=TAKEN, note="probador 2")), "es", "Probador · talla 40: de camino a probador 2"),
    (request_with(held(state=READY, note="fitting room 2")), "en", "Fitting room · size 40: ready in fitting room 2"),
    (request_with(held(state=ReservationState.EXPIRED)), "en", "Fitting room · size 40: the hold has expired"),
    (request_with(held(state=ReservationState.CANCELLED)), "es", "Probador · talla 40: petición cancelada"),
    (request_with(error="out_of_stock"), "en",
     "Fitting room · size 40: someone just took the last one, try another size"),
    (request_with(error="refused"), "es", "Probador · talla 40: no podemos pedirla ahora, pregunta a un dependiente"),
    (request_with(error=NO_ANSWER), "en",
     "Fitting room · size 40: the stockroom is not answering, please ask a member of staff"),
])
def test_each_state_reads_as_a_sentence(request_made: VisitRequest, language: str, line: str) -> None:
    assert request_lines([request_made], language) == line


def test_a_hold_to_collect_says_until_when_and_where() -> None:
    made = VisitRequest(uuid.uuid4(), BAG, "U", COLLECT, reservation=held(COLLECT, sku=BAG, size="U"))
    assert request_lines([made], "es") == (
        "Recoger · talla única: reservada hasta el 3 de diciembre, recógela en el mostrador")
    ready = VisitRequest(uuid.uuid4(), BAG, "U", COLLECT, reservation=held(COLLECT, READY, sku=BAG, size="U"))
    assert request_lines([made, ready], "en").splitlines() == [
        "To collect · one size: ready at the counter",  # the newest first
        "To collect · one size: reserved until 3 December, collect it at the counter"]


def test_the_welcome_lists_the_profile_s_and_the_visit_s_reservations_each_once_as_it_stands_now() -> None:
    online, here = held(COLLECT, sku=BAG, size="U"), held()
    visit = Visit(reservations={online.reservation_id: online, here.reservation_id: here})
    ask = start_request(visit, BOOT, "40", FITTING)
    ask.reservation = here.model_copy(update={"state": READY, "note": "probador 2"})  # its live update is newer
    behind = start_request(visit, BAG, "U", COLLECT)
    behind.reservation = online.model_copy(update={"state": ReservationState.EXPIRED})
    assert held_for_shopper(visit) == (ask.reservation,)  # the expired one is gone, the boot as it stands now
    lines = reservation_lines(held_for_shopper(visit), CATALOG, "es")
    assert lines == "Botín Chelsea negro · talla 40: lista en probador 2"
    pushed_ahead = start_request(Visit(), BOOT, "40", FITTING)
    pushed_ahead.reservation = here
    ahead = Visit(reservations={here.reservation_id: here.model_copy(update={"state": TAKEN})},
                  requests=[pushed_ahead])
    assert [r.state for r in held_for_shopper(ahead)] == [TAKEN]  # the profile's push is further along


def test_orders_are_listed_newest_first_with_where_they_were_made() -> None:
    orders = [OrderSummary(order_id="web-1", at=NOW - timedelta(days=11), store="online", channel="web", skus=(BAG,),
                           lines=1, total=Decimal("59.95")),
              OrderSummary(order_id="till-2", at=NOW - timedelta(days=2), store="madrid-centro", channel="till",
                           skus=(BOOT, BAG), lines=2, total=Decimal("149.90"))]
    assert order_lines(orders, CATALOG, "en").splitlines() == ["29 November · 2 products · €149.90 · Madrid Centro",
                                                              "20 November · 1 product · €59.95 · online shop"]


def test_staff_see_the_oldest_first_how_long_each_waited_and_how_many_more() -> None:
    requests = tuple(OpenRequest(reservation_id=uuid.uuid4(), kiosk=None if n == 0 else f"kiosk-0{n}", sku=BOOT,
                                 size="40", kind=FITTING, state=READY if n == 1 else HELD,
                                 created_at=NOW - timedelta(minutes=30 - n)) for n in range(MAX_STAFF_ROWS + 2))
    rows, more = open_request_rows(requests, CATALOG, "es", NOW)
    assert len(rows) == MAX_STAFF_ROWS and more == 2
    assert (rows[0].where, rows[0].waiting, rows[0].state, rows[0].kind) == ("en la web", "30 min", "Sin atender",
                                                                             "Probador")
    assert (rows[1].where, rows[1].state, rows[1].ready) == ("kiosk-01", "Lista", True)


def test_what_went_wrong_is_marked_for_the_warning_colour() -> None:
    made = [request_with(held(state=READY)), request_with(error="out_of_stock"),
            request_with(held(state=ReservationState.EXPIRED))]
    assert [trouble for _line, trouble in request_line_list(made, "en")] == [True, True, False]  # newest first
