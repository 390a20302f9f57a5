"""Reservations with real parts: the kiosk's runtime over a real Mosquitto asks the store's desk
(real contract messages, see ``store_desk``) to bring a size to a fitting room, and shows
its state live as staff move it on; HQ's stock levels replace the bundle's figures; the
store's open requests reach staff mode; updates for another visit, older ones and those
after the visit ended change nothing; HQ's refusal and its silence are said; and hostile
messages on the store's topics are refused and counted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app import KioskConfig, KioskRuntime
from kiosk_app._reservation_desk import StoreNews, StoreNewsKind
from kiosk_app._reservations import NO_ANSWER, RequestRefusal, VisitRequest
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import (
    ReservationKind,
    ReservationState,
    ReservationTopics,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    load_catalog,
    stock_topic,
    store_requests_topic,
)
from nfc_reader import TagEmulator
from testkit.live_hq import ScreenThread
from testkit.mosquitto import Mosquitto
from testkit.reservations import reservation
from testkit.waiting import eventually
from tests.integration.store_desk import StoreDesk

STORE, KIOSK = "madrid-centro", "kiosk-01"
BOOT, COAT = "BOOT-CHELSEA-BLK", "COAT-WOOL-GRY"
FITTING, COLLECT = ReservationKind.FITTING_ROOM, ReservationKind.COLLECT
# HQ's figures for the boot differ from the demo bundle's (38: 2, 39: 0, 40: 5, 41: 1, 42: 3).
UNITS = {BOOT: {"38": 0, "39": 0, "40": 1, "41": 0, "42": 0}, COAT: {"S": 1, "M": 1, "L": 0, "XL": 2}}
BUNDLE_BOOT = load_catalog(demo_catalog_path()).product(BOOT)


class Kiosk:
    """A kiosk runtime, its work on one screen thread, and the store's news it told the screen."""

    def __init__(self, tmp_path: Path, broker: str, hq_pem: Path, emulator: TagEmulator) -> None:
        self.news: list[StoreNews] = []
        self.screen = ScreenThread()
        config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog_path(), reader=emulator.path,
                             broker=broker, data_dir=tmp_path / "kiosk", hq_public_key=hq_pem)
        self.runtime = KioskRuntime(config, on_outcome=lambda outcome: None, dispatch=self.screen.dispatch,
                                    on_store_news=self.news.append)
        self.runtime.start()
        assert self.runtime.link.subscribed.wait(10)  # what the store's desk publishes from now on reaches it

    @property
    def requests(self) -> list[VisitRequest]:
        return self.runtime.state.visit.requests

    def reserve(self, sku: str, size: str, kind: ReservationKind = FITTING) -> RequestRefusal | None:
        return self.screen.call(lambda: self.runtime.reserve(sku, size, kind))

    def state_of_first(self) -> ReservationState | None:
        reservation = self.requests[0].reservation if self.requests else None
        return reservation.state if reservation else None

    def stop(self) -> None:
        self.runtime.stop()
        self.screen.stop()


@pytest.fixture
def desk(mosquitto: Mosquitto) -> Iterator[StoreDesk]:
    running = StoreDesk(mosquitto.url, STORE, UNITS)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def kiosk(tmp_path: Path, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path],
          emulator: TagEmulator) -> Iterator[Kiosk]:
    running = Kiosk(tmp_path, mosquitto.url, hq_key[1], emulator)
    yield running
    running.stop()


def test_a_fitting_room_request_shows_its_state_live_and_hq_s_stock_replaces_the_bundle_s(
        desk: StoreDesk, kiosk: Kiosk) -> None:
    desk_counters = kiosk.runtime.reservations.counters
    assert BUNDLE_BOOT is not None and kiosk.runtime.reservations.free_units(BOOT) == BUNDLE_BOOT.stock_in(STORE)
    desk.publish_level(BOOT)
    assert eventually(lambda: kiosk.runtime.reservations.free_units(BOOT) == UNITS[BOOT], 10)
    assert kiosk.reserve(BOOT, "42") is RequestRefusal.NONE_FREE  # the bundle's 3 are HQ's 0 now
    assert kiosk.reserve(BOOT, "40") is None
    assert kiosk.requests[0].waiting  # at once, before HQ answers
    assert eventually(lambda: kiosk.state_of_first() is ReservationState.HELD, 10)
    (request,) = desk.requests
    assert (request.session, request.sku, request.size, request.kind, request.shopper) == (
        kiosk.runtime.state.visit.id, BOOT, "40", FITTING, None)  # an anonymous shopper is named nowhere
    desk.publish_level(BOOT)  # the unit held is no longer free
    assert eventually(lambda: kiosk.runtime.reservations.free_units(BOOT) == UNITS[BOOT] | {"40": 0}, 10)
    assert kiosk.reserve(BOOT, "40") is RequestRefusal.NONE_FREE
    assert kiosk.reserve(COAT, "S", COLLECT) is RequestRefusal.SIGN_IN_FIRST

    held = kiosk.requests[0].reservation
    assert held is not None
    desk.move_on(held.reservation_id, ReservationState.TAKEN, "probador 2")
    desk.publish_requests()
    assert eventually(lambda: kiosk.state_of_first() is ReservationState.TAKEN and
                      len(kiosk.runtime.open_requests) == 1, 10)
    (listed,) = kiosk.runtime.open_requests
    assert (listed.kiosk, listed.sku, listed.size, listed.state) == (KIOSK, BOOT, "40", ReservationState.TAKEN)
    desk.move_on(held.reservation_id, ReservationState.READY, "probador 2")
    assert eventually(lambda: kiosk.state_of_first() is ReservationState.READY, 10)
    assert kiosk.requests[0].reservation.note == "probador 2"  # type: ignore[union-attr]
    assert desk_counters.asked == 1 and desk_counters.refused_here == 3 and desk_counters.updates_applied == 2
    kinds = {news.kind for news in kiosk.news}
    assert kinds == {StoreNewsKind.STOCK, StoreNewsKind.VISIT_REQUESTS, StoreNewsKind.OPEN_REQUESTS}


def test_hq_s_refusal_and_its_silence_are_said_and_a_late_answer_still_fills_its_ask(
        desk: StoreDesk, kiosk: Kiosk) -> None:
    assert kiosk.reserve(BOOT, "42") is None  # the bundle says 3; HQ holds none free
    assert eventually(lambda: kiosk.requests[0].error == "out_of_stock", 10)
    desk.answering = False
    assert kiosk.reserve(COAT, "M") is None
    assert eventually(lambda: len(kiosk.requests) == 2 and kiosk.requests[1].error == NO_ANSWER, 10)
    counters = kiosk.runtime.reservations.counters
    assert counters.answered == 1 and counters.unanswered == 1
    desk.answer_waiting()  # HQ held a unit after all: the screen says so, not "no answer"
    assert eventually(lambda: counters.late_answers == 1, 10)
    late = kiosk.requests[1]
    assert late.error is None and late.reservation is not None and late.reservation.state is ReservationState.HELD
    assert len(kiosk.requests) == 2 and late.ask_id == desk.requests[1].request_id


def test_updates_for_another_visit_older_ones_and_those_after_the_visit_change_nothing(
        desk: StoreDesk, kiosk: Kiosk) -> None:
    assert kiosk.reserve(COAT, "S") is None
    assert eventually(lambda: kiosk.state_of_first() is ReservationState.HELD, 10)
    held = kiosk.requests[0].reservation
    assert held is not None
    counters = kiosk.runtime.reservations.counters
    desk.move_on(held.reservation_id, ReservationState.TAKEN, "probador 1", stamp=5)
    assert eventually(lambda: counters.updates_applied == 1, 10)
    desk.move_on(held.reservation_id, ReservationState.CANCELLED, stamp=4)  # older than what the screen shows
    desk.move_on(held.reservation_id, ReservationState.CANCELLED, stamp=9, session=uuid.uuid4())
    assert eventually(lambda: counters.updates_outdated == 1 and counters.updates_not_this_visit == 1, 10)
    assert kiosk.state_of_first() is ReservationState.TAKEN
    ended = kiosk.runtime.state.visit
    kiosk.screen.call(kiosk.runtime.kiosk.end_session)
    desk.move_on(held.reservation_id, ReservationState.READY, stamp=10, session=ended.id)
    assert eventually(lambda: counters.updates_not_this_visit == 2, 10)
    assert kiosk.requests == []  # nothing of the last visit's requests is shown to the next shopper


def test_hostile_messages_on_the_store_s_topics_are_refused_and_counted(desk: StoreDesk, kiosk: Kiosk) -> None:
    topics = ReservationTopics(STORE, KIOSK)
    level = StockLevel(store=STORE, sku=BOOT, stamp=99, available={"40": 9})
    well_formed = level.model_dump_json().encode()
    hostile = [
        (stock_topic(STORE, BOOT), well_formed + b" " * StockLevel.max_bytes),  # over its cap: refused unread
        (stock_topic(STORE, BOOT), b"{not json"),
        (stock_topic(STORE, COAT), well_formed),  # the boot's level on the coat's topic
        (stock_topic(STORE, BOOT), well_formed.replace(STORE.encode(), b"barcelona-diagonal")),
        (store_requests_topic(STORE), StoreRequests(store="barcelona-diagonal", stamp=99).model_dump_json().encode()),
        (f"store/{STORE}/prices", b"{}"),  # nothing the kiosk takes
        (topics.changes, b'{"v": 1, "session": "not a uuid"}'),
        (topics.response, b"[]"),
    ]
    for topic, payload in hostile:
        desk.publish(topic, payload)
    stats = kiosk.runtime.link.stats
    assert eventually(lambda: stats.rejected_messages == len(hostile), 10)
    assert stats.store_refused == len(hostile) - 1  # the answer topic's refusal is the link's own
    assert stats.stock_levels == stats.store_requests == stats.reservation_updates == 0
    assert kiosk.runtime.reservations.free_units(BOOT) == BUNDLE_BOOT.stock_in(STORE)  # type: ignore[union-attr]
    assert kiosk.runtime.open_requests == () and kiosk.news == []
    update = ReservationUpdate(session=kiosk.runtime.state.visit.id, stamp=1, reservation=reservation())
    desk.publish(topics.changes, update.model_dump_json().encode() + b" " * ReservationUpdate.max_bytes)
    assert eventually(lambda: stats.store_refused == len(hostile), 10) and kiosk.requests == []
