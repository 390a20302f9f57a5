"""The store's own messages: reservation requests and answers, their updates, stock levels and
the store's open requests, each refused when it breaks its shape."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from kiosk_protocol import (
    MAX_OPEN_REQUESTS,
    ContractError,
    MessageTooLarge,
    OpenRequest,
    Reservation,
    ReservationKind,
    ReservationRequest,
    ReservationResponse,
    ReservationState,
    ReservationTopics,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    decode,
    stock_topic,
)

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
HELD = Reservation(reservation_id=uuid.uuid4(), sku="BOOT-CHELSEA-BLK", size="41", kind=ReservationKind.FITTING_ROOM,
                   state=ReservationState.HELD, expires_at=NOW)


def request(**fields: object) -> bytes:
    return json.dumps({"request_id": str(uuid.uuid4()), "session": str(uuid.uuid4()), "sku": "BOOT-CHELSEA-BLK",
                       "size": "41", "kind": "fitting_room", **fields}).encode()


def test_each_message_comes_back_as_it_was_sent() -> None:
    update = ReservationUpdate(session=uuid.uuid4(), stamp=3, reservation=HELD.model_copy(
        update={"state": ReservationState.READY, "note": "probador 2"}))
    level = StockLevel(store="madrid-centro", sku="BOOT-CHELSEA-BLK", stamp=9, available={"40": 0, "41": 2})
    online = OpenRequest(reservation_id=uuid.uuid4(), sku=HELD.sku, size=HELD.size, kind=HELD.kind,
                         state=HELD.state, created_at=NOW)  # made over the API: no kiosk
    requests = StoreRequests(store="madrid-centro", stamp=9, requests=(OpenRequest(
        reservation_id=HELD.reservation_id, kiosk="k1", sku=HELD.sku, size=HELD.size, kind=HELD.kind,
        state=HELD.state, created_at=NOW), online))
    answer = ReservationResponse(request_id=uuid.uuid4(), reservation=HELD)
    for message in (update, level, requests, answer):
        assert decode(type(message), message.model_dump_json().encode()) == message
        assert decode(type(message), message.model_dump_json(exclude_none=True).encode()) == message
    asked = decode(ReservationRequest, request(kind="collect", shopper="alice", token="t"))
    assert asked.kind is ReservationKind.COLLECT and asked.shopper == "alice"


@pytest.mark.parametrize("fields", [
    {"kind": "collect"},  # collecting is for a signed-in shopper
    {"shopper": "alice"},  # a shopper without their card's token
    {"token": "t"},  # a token without its shopper
    {"size": "x" * 17},
    {"sku": "boot; drop"},
    {"kind": "delivery"},
])
def test_a_request_that_breaks_its_shape_is_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ContractError):
        decode(ReservationRequest, request(**fields))


def test_an_answer_carries_a_reservation_or_an_error_never_both_or_neither() -> None:
    with pytest.raises(ValueError, match="reservation or an error"):
        ReservationResponse(request_id=uuid.uuid4())
    with pytest.raises(ValueError, match="reservation or an error"):
        ReservationResponse(request_id=uuid.uuid4(), reservation=HELD, error="out_of_stock")


def test_the_store_s_requests_are_bounded_in_count_and_size() -> None:
    many = [OpenRequest(reservation_id=uuid.uuid4(), kiosk="k1", sku=HELD.sku, size=HELD.size, kind=HELD.kind,
                        state=HELD.state, created_at=NOW) for _ in range(MAX_OPEN_REQUESTS + 1)]
    with pytest.raises(ValueError):
        StoreRequests(store="madrid-centro", stamp=1, requests=tuple(many))
    with pytest.raises(MessageTooLarge):
        decode(StoreRequests, b" " * (StoreRequests.max_bytes + 1))


def test_which_requests_hold_a_unit_of_stock() -> None:
    assert {state for state in ReservationState if state.holds_stock} == {
        ReservationState.HELD, ReservationState.TAKEN, ReservationState.READY}


def test_a_kiosk_s_topics_stay_in_its_own_store() -> None:
    topics = ReservationTopics("madrid-centro", "k1")
    assert topics.request == "kiosk/madrid-centro/k1/reservation/request"
    assert topics.store_wildcard == "store/madrid-centro/#"
    assert stock_topic("madrid-centro", "BOOT-CHELSEA-BLK") == "store/madrid-centro/stock/BOOT-CHELSEA-BLK"
    with pytest.raises(ContractError):
        ReservationTopics("madrid/#", "k1")
