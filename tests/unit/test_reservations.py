"""A visit's requests and their live state, and the store's figures as HQ keeps them: what the
kiosk asks for at all, answers and updates taken only for their visit and only when newer,
and HQ's stock levels in force over any bundle until a newer level comes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kiosk_app._reservations import (
    MAX_ACTIVE_REQUESTS,
    NO_ANSWER,
    RequestRefusal,
    UpdateVerdict,
    check_request,
    latest_for,
    start_request,
    take_answer,
    take_update,
)
from kiosk_app._store_state import LevelVerdict, StoreState
from kiosk_app.demo import demo_catalog_path
from kiosk_app.session import Visit
from kiosk_protocol import (
    OpenRequest,
    Reservation,
    ReservationKind,
    ReservationResponse,
    ReservationState,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    load_catalog,
)
from testkit.reservations import reservation

STORE = "madrid-centro"
BOOT = "BOOT-CHELSEA-BLK"
FITTING, COLLECT = ReservationKind.FITTING_ROOM, ReservationKind.COLLECT
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
FREE = {"40": 2, "41": 0, "42": 1}
CATALOG = load_catalog(demo_catalog_path())


def answered(visit: Visit, held: Reservation) -> None:
    ask = start_request(visit, BOOT, "40", FITTING)
    assert take_answer(visit, visit.id, ask.ask_id, ReservationResponse(request_id=uuid.uuid4(), reservation=held))


@pytest.mark.parametrize(("shopper_visit", "signed_in", "size", "kind", "free", "refusal"), [
    (True, False, "40", FITTING, FREE, None),
    (False, False, "40", FITTING, FREE, RequestRefusal.NOT_NOW),  # staff mode, or locked
    (True, False, "41", FITTING, FREE, RequestRefusal.NONE_FREE),
    (True, False, "39", FITTING, FREE, RequestRefusal.UNKNOWN_PRODUCT),
    (True, False, "40", FITTING, None, RequestRefusal.UNKNOWN_PRODUCT),  # not sold in this store
    (True, False, "40", COLLECT, FREE, RequestRefusal.SIGN_IN_FIRST),
    (True, True, "40", COLLECT, FREE, None),
])
def test_what_the_kiosk_asks_hq_at_all(shopper_visit: bool, signed_in: bool, size: str, kind: ReservationKind,
                                       free: dict[str, int] | None, refusal: RequestRefusal | None) -> None:
    visit = Visit(shopper="shopper-0042", card_token="token") if signed_in else Visit()
    assert check_request(visit, shopper_visit, BOOT, size, kind, free) is refusal


def test_the_same_request_twice_or_one_too_many_is_not_asked() -> None:
    visit = Visit()
    start_request(visit, BOOT, "40", FITTING)
    assert check_request(visit, True, BOOT, "40", FITTING, FREE) is RequestRefusal.ALREADY_ASKED
    for size in ("42", "43")[:MAX_ACTIVE_REQUESTS - 1]:
        start_request(visit, BOOT, size, FITTING)
    assert check_request(visit, True, BOOT, "40", COLLECT, FREE | {"40": 3}) is not None
    assert check_request(visit, True, "COAT-WOOL-GRY", "M", FITTING, {"M": 1}) is RequestRefusal.TOO_MANY


def test_a_request_that_ended_makes_room_for_another() -> None:
    visit = Visit()
    held = reservation()
    answered(visit, held)
    assert take_update(visit, ReservationUpdate(session=visit.id, stamp=1, reservation=held.model_copy(
        update={"state": ReservationState.CANCELLED}))) is UpdateVerdict.APPLIED
    assert check_request(visit, True, BOOT, "40", FITTING, FREE) is None


def test_an_answer_fills_its_ask_and_no_answer_says_so() -> None:
    visit = Visit()
    ask = start_request(visit, BOOT, "40", FITTING)
    assert ask.waiting and ask.active
    held = reservation()
    assert take_answer(visit, visit.id, ask.ask_id, ReservationResponse(request_id=uuid.uuid4(), reservation=held))
    assert ask.reservation == held and not ask.waiting and ask.active
    gone = start_request(visit, BOOT, "42", FITTING)
    assert take_answer(visit, visit.id, gone.ask_id, ReservationResponse(request_id=uuid.uuid4(), error="out_of_stock"))
    assert gone.error == "out_of_stock" and not gone.active
    silent = start_request(visit, BOOT, "43", FITTING)
    assert take_answer(visit, visit.id, silent.ask_id, None) and silent.error == NO_ANSWER


def test_an_answer_for_an_ended_visit_is_dropped() -> None:
    ended, now = Visit(), Visit()
    ask = start_request(ended, BOOT, "40", FITTING)
    assert not take_answer(now, ended.id, ask.ask_id, ReservationResponse(request_id=uuid.uuid4(),
                                                                          reservation=reservation()))
    assert now.requests == []


def test_updates_are_taken_for_their_visit_only_and_only_when_newer() -> None:
    visit = Visit()
    held = reservation()
    answered(visit, held)
    taken = held.model_copy(update={"state": ReservationState.TAKEN, "note": "probador 2"})
    ready = held.model_copy(update={"state": ReservationState.READY, "note": "probador 2"})
    assert take_update(visit, ReservationUpdate(session=uuid.uuid4(), stamp=9, reservation=ready)) is \
        UpdateVerdict.NOT_THIS_VISIT
    assert take_update(visit, ReservationUpdate(session=visit.id, stamp=5, reservation=ready)) is UpdateVerdict.APPLIED
    assert take_update(visit, ReservationUpdate(session=visit.id, stamp=4, reservation=taken)) is \
        UpdateVerdict.OUTDATED
    assert take_update(visit, ReservationUpdate(session=visit.id, stamp=5, reservation=taken)) is \
        UpdateVerdict.OUTDATED
    (request,) = latest_for(visit, BOOT)
    assert request.reservation == ready and request.stamp == 5


def test_an_update_before_its_answer_stands_and_the_late_answer_does_not_undo_it() -> None:
    visit = Visit()
    ask = start_request(visit, BOOT, "40", FITTING)
    held = reservation()
    taken = held.model_copy(update={"state": ReservationState.TAKEN})
    assert take_update(visit, ReservationUpdate(session=visit.id, stamp=2, reservation=taken)) is UpdateVerdict.APPLIED
    assert take_answer(visit, visit.id, ask.ask_id, ReservationResponse(request_id=uuid.uuid4(), reservation=held))
    (request,) = visit.requests
    assert request is ask and request.reservation == taken and request.stamp == 2


def level(stamp: int, available: dict[str, int], store: str = STORE) -> StockLevel:
    return StockLevel(store=store, sku=BOOT, stamp=stamp, available=available)


def test_hq_s_level_replaces_the_bundle_s_figures_until_a_newer_one_comes() -> None:
    state = StoreState(STORE)
    boot = CATALOG.product(BOOT)
    assert boot is not None
    assert state.free_units(boot) == boot.stock_in(STORE)  # no level yet: the bundle's
    sizes = list(boot.stock_in(STORE))
    newest = {size: 0 for size in sizes} | {"47": 1}
    assert state.take_level(level(7, newest)) is LevelVerdict.APPLIED
    assert state.take_level(level(6, {size: 9 for size in sizes})) is LevelVerdict.OUTDATED  # a late retained one
    assert state.take_level(level(7, {size: 9 for size in sizes})) is LevelVerdict.OUTDATED
    assert state.take_level(level(8, {sizes[0]: 1}, store="barcelona-diagonal")) is LevelVerdict.OUTDATED
    restocked = boot.model_copy(update={"stock": {STORE: {size: 5 for size in sizes}}})  # a later bundle's figures
    assert state.free_units(restocked) == newest  # HQ's figures stay in force, in the bundle's order, 47 after
    assert list(state.free_units(restocked)) == [*sizes, "47"]
    assert state.counters.levels_applied == 1 and state.counters.levels_outdated == 3
    assert state.take_level(level(9, {sizes[0]: 2})) is LevelVerdict.APPLIED
    assert state.free_units(restocked) == {sizes[0]: 2}


def test_the_newest_open_requests_are_listed_oldest_first() -> None:
    state = StoreState(STORE)
    assert state.open_requests == ()

    def open_request(minutes_ago: int) -> OpenRequest:
        return OpenRequest(reservation_id=uuid.uuid4(), kiosk="kiosk-01", sku=BOOT, size="40", kind=FITTING,
                           state=ReservationState.HELD, created_at=NOW - timedelta(minutes=minutes_ago))

    newer, older = open_request(2), open_request(9)
    assert state.take_requests(StoreRequests(store=STORE, stamp=3, requests=(newer, older))) is LevelVerdict.APPLIED
    assert state.open_requests == (older, newer)
    assert state.take_requests(StoreRequests(store=STORE, stamp=2)) is LevelVerdict.OUTDATED
    assert state.take_requests(StoreRequests(store="barcelona-diagonal", stamp=9)) is LevelVerdict.OUTDATED
    assert state.take_requests(StoreRequests(store=STORE, stamp=4)) is LevelVerdict.APPLIED
    assert state.open_requests == ()


def test_the_acl_lets_a_kiosk_ask_for_its_own_holds_and_read_its_own_store_only() -> None:
    from hq import render_acl

    acl = render_acl(["hq-profiles"], [(STORE, "kiosk-01"), ("barcelona-diagonal", "kiosk-07")]).splitlines()
    kiosk = acl[acl.index(f"user {STORE}.kiosk-01"):acl.index("user barcelona-diagonal.kiosk-07")]
    assert [line for line in kiosk if "reservation" in line or "store/" in line] == [
        f"topic write kiosk/{STORE}/kiosk-01/reservation/request",
        f"topic read kiosk/{STORE}/kiosk-01/reservation/response",
        f"topic read kiosk/{STORE}/kiosk-01/reservation/changes",
        f"topic read store/{STORE}/#"]
