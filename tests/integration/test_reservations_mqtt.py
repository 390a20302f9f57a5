"""Holds asked for at a kiosk, with real parts: a kiosk-side MQTT 5 client (plain paho, the
contract's messages) through a real Mosquitto to HQ's profile responder on SQLite. A free
size is held for the kiosk's visit, once however often the request comes; a taken size,
an unknown one, a forged card are answered with their error; oversized and malformed
requests are refused unread and counted; a profile answer of version 4 lists the
shopper's open reservations at the asking kiosk's store only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import (
    ProfileRequest,
    ReservationKind,
    ReservationRequest,
    ReservationState,
    Role,
    issue_token,
    load_catalog,
)
from kiosk_protocol._cards import card_verifier
from testkit.mosquitto import Mosquitto
from testkit.store_kiosk import StoreKiosk
from testkit.waiting import eventually

STORE, OTHER, KIOSK = "madrid-centro", "barcelona-diagonal", "kiosk-01"
BOOT = "BOOT-CHELSEA-BLK"  # in the demo catalog, madrid-centro: 38:2 39:0 40:5 41:1 42:3
SHOPPER = "shopper-0042"


class Hq:
    """HQ's responder on a real broker, the demo catalog's stock loaded."""

    def __init__(self, broker: str, db_url: str, hq_key: Ed25519PrivateKey) -> None:
        self.store = ProfileStore(db_url)
        self.store.stock.load_catalog(load_catalog(demo_catalog_path()))
        self.responder = ProfileResponder(broker, self.store, card_verifier(hq_key.public_key()))
        assert self.responder.reservations is not None
        self.desk = self.responder.reservations
        self.responder.start()
        assert self.responder.subscribed.wait(10)

    def held(self, size: str, store: str = STORE) -> int:
        return next(row.held for row in self.store.stock.of(store, BOOT) if row.size == size)

    def close(self) -> None:
        self.responder.stop()
        self.store.close()


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Hq]:
    server = Hq(mosquitto.url, sqlite_url, hq_key[0])
    yield server
    server.close()


@pytest.fixture
def kiosk(mosquitto: Mosquitto, hq: Hq) -> Iterator[StoreKiosk]:
    client = StoreKiosk(mosquitto.url, STORE, KIOSK)
    yield client
    client.close()


@pytest.fixture
def card(hq_key: tuple[Ed25519PrivateKey, Path]) -> str:
    return issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)


def test_a_free_size_is_held_for_the_kiosks_visit_once_however_often_it_is_asked(hq: Hq,
                                                                                 kiosk: StoreKiosk) -> None:
    visit = uuid.uuid4()
    request = ReservationRequest(request_id=uuid.uuid4(), session=visit, sku=BOOT, size="41",
                                 kind=ReservationKind.FITTING_ROOM)
    payload = request.model_dump_json(exclude_none=True).encode()
    first = kiosk.send(payload, request.request_id)
    assert first.error is None and first.reservation is not None
    assert first.reservation.state is ReservationState.HELD and first.reservation.size == "41"
    again = kiosk.send(payload, request.request_id)  # a QoS 1 redelivery, or the kiosk's retry
    assert again.reservation == first.reservation and hq.held("41") == 1
    stored = hq.store.reservations.get(STORE, first.reservation.reservation_id.hex)
    assert stored is not None
    assert (stored.kiosk, stored.session, stored.channel) == (KIOSK, str(visit), "kiosk:kiosk-01")
    assert stored.revision > 0 and stored.shopper is None
    assert (hq.desk.stats.held, hq.desk.stats.repeated) == (1, 1)


def test_the_last_unit_taken_a_size_without_stock_and_an_unknown_size_are_answered_with_their_error(
        hq: Hq, kiosk: StoreKiosk) -> None:
    assert kiosk.ask(BOOT, "41").reservation is not None
    assert kiosk.ask(BOOT, "41").error == "out_of_stock"  # its only unit is held now
    assert kiosk.ask(BOOT, "39").error == "out_of_stock"  # none in stock
    assert kiosk.ask(BOOT, "47").error == "unknown_product"
    assert kiosk.ask("SKU-NOT-SOLD", "41").error == "unknown_product"
    stats = hq.desk.stats
    assert (stats.held, stats.out_of_stock, stats.unknown_product) == (1, 2, 2) and hq.held("41") == 1


def test_a_collect_request_needs_the_shoppers_own_card(hq: Hq, kiosk: StoreKiosk, card: str,
                                                      hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    forged = issue_token(Ed25519PrivateKey.generate(), SHOPPER, Role.SHOPPER, 600)
    someone_elses = issue_token(hq_key[0], "shopper-0099", Role.SHOPPER, 600)
    assert kiosk.ask(BOOT, "40", ReservationKind.COLLECT, SHOPPER, forged).error == "refused"
    assert kiosk.ask(BOOT, "40", ReservationKind.COLLECT, SHOPPER, someone_elses).error == "refused"
    made = kiosk.ask(BOOT, "40", ReservationKind.COLLECT, SHOPPER, card)
    assert made.reservation is not None and made.reservation.kind is ReservationKind.COLLECT
    assert hq.desk.stats.refused == 2 and hq.held("40") == 1
    assert [r.reservation_id for r in hq.store.reservations.of(f"shopper:{SHOPPER}")] == [
        made.reservation.reservation_id.hex]


def test_an_erased_shoppers_card_is_refused(hq: Hq, kiosk: StoreKiosk, card: str) -> None:
    hq.store.erase(SHOPPER)
    assert kiosk.ask(BOOT, "40", ReservationKind.COLLECT, SHOPPER, card).error == "refused"
    assert hq.held("40") == 0


def test_oversized_and_malformed_requests_are_refused_unread_and_counted(hq: Hq, kiosk: StoreKiosk) -> None:
    request = ReservationRequest(request_id=uuid.uuid4(), session=uuid.uuid4(), sku=BOOT, size="40",
                                 kind=ReservationKind.FITTING_ROOM)
    well_formed = request.model_dump_json(exclude_none=True).encode()
    for payload in (well_formed + b" " * ReservationRequest.max_bytes,  # over the size cap
                    b"{not json",
                    well_formed.replace(b'"fitting_room"', b'"collect"'),  # a collect request names its shopper
                    well_formed.replace(b'"40"', b'"40\\u0000"')):  # a control character in the size
        kiosk.publish(kiosk.topics.request, payload)
    assert eventually(lambda: hq.responder.stats.rejected == 4, 10)
    assert hq.responder.stats.oversized == 1 and hq.held("40") == 0
    assert kiosk.ask(BOOT, "40").reservation is not None  # the kiosk's next request is answered as ever


def test_a_request_id_sent_again_from_another_kiosk_is_refused(hq: Hq, kiosk: StoreKiosk,
                                                              mosquitto: Mosquitto) -> None:
    request = ReservationRequest(request_id=uuid.uuid4(), session=uuid.uuid4(), sku=BOOT, size="40",
                                 kind=ReservationKind.FITTING_ROOM)
    payload = request.model_dump_json(exclude_none=True).encode()
    assert kiosk.send(payload, request.request_id).reservation is not None
    other = StoreKiosk(mosquitto.url, STORE, "kiosk-02")
    try:
        assert other.send(payload, request.request_id).error == "refused"
    finally:
        other.close()
    assert hq.held("40") == 1 and hq.desk.stats.refused == 1


def test_a_version_4_profile_answer_lists_the_shoppers_open_reservations_at_the_kiosks_store_only(
        hq: Hq, kiosk: StoreKiosk, card: str) -> None:
    here = kiosk.ask(BOOT, "40", ReservationKind.COLLECT, SHOPPER, card).reservation
    assert here is not None
    elsewhere = hq.store.reservations.hold(OTHER, BOOT, "40", SHOPPER, ReservationKind.COLLECT, None, "web")
    closed = hq.store.reservations.hold(STORE, BOOT, "42", SHOPPER, ReservationKind.FITTING_ROOM, None, "web")
    hq.store.reservations.cancel(STORE, closed.reservation_id, "web")
    assert elsewhere.store == OTHER
    answers = [hq.responder._answer(ProfileRequest(v=v, request_id=uuid.uuid4(), shopper=SHOPPER, token=card),
                                    STORE, KIOSK) for v in (3, 4)]
    assert answers[0].reservations == ()
    assert [r.reservation_id for r in answers[1].reservations] == [here.reservation_id]
    assert answers[1].reservations[0].kind is ReservationKind.COLLECT
