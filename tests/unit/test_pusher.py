"""Where shoppers stand and what HQ's pusher sends them, over a real SQLite store and a
publisher that records (the broker's side is tests/integration/test_live_push.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hq import Presence, ProfilePusher, ProfileStore
from hq._orders import Order, OrderLine
from kiosk_protocol import EventKind, Hlc, ProfileChange, SyncError, decode, kiosk_topics, new_event
from testkit.waiting import eventually

SHOPPER, OTHER = "shopper-0042", "shopper-0007"
STORE = "madrid-centro"
VISIT = str(uuid.uuid4())


class RecordingPublisher:
    """Takes every message, or refuses the next ``failures`` as a broker out of reach would."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, ProfileChange, Mapping[str, Any] | None]] = []
        self.failures = 0
        self.lock = threading.Lock()

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0,
                properties: Mapping[str, Any] | None = None) -> None:
        with self.lock:
            if self.failures:
                self.failures -= 1
                raise SyncError("the broker is out of reach")
            self.sent.append((topic, decode(ProfileChange, payload), properties))

    def cursors(self) -> list[int]:
        with self.lock:
            return [change.cursor for _, change, _ in self.sent]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProfileStore]:
    store = ProfileStore(f"sqlite:///{tmp_path / 'hq.sqlite'}")
    yield store
    store.close()


_seq = iter(range(1, 10**6))


def web_add(store: ProfileStore, sku: str, shopper: str = SHOPPER, store_id: str = "online",
            kiosk: str = "web") -> int:
    """A wishlist add from a channel (or a kiosk); returns its cursor in the change log."""
    seq = next(_seq)
    store.record_many([new_event(kind=EventKind.WISHLIST_ADD, store=store_id, kiosk=kiosk, seq=seq,
                                 session=uuid.uuid4(), shopper=shopper, sku=sku, hlc=str(Hlc(seq, 0, "hq-api")))])
    return store.changes.latest()


def pusher_of(store: ProfileStore, publisher: RecordingPublisher, name: str = "hq") -> ProfilePusher:
    pusher = ProfilePusher(store, publisher, name=name, poll_s=0.01)
    pusher.start()
    assert pusher.started.wait(10)
    return pusher


def test_a_shopper_stands_at_one_kiosk_and_a_kiosk_has_one_shopper(store: ProfileStore) -> None:
    presence = store.presence
    presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT)
    presence.arrive(SHOPPER, STORE, "kiosk-b", "visit-2")  # signed in elsewhere: moved
    assert presence.stay_of(SHOPPER) is not None and presence.stay_of(SHOPPER).kiosk == "kiosk-b"  # type: ignore[union-attr]
    presence.arrive(OTHER, STORE, "kiosk-b", "visit-3")  # another shopper's card at that kiosk
    assert presence.stay_of(SHOPPER) is None and presence.stay_of(OTHER) is not None
    assert presence.leave(STORE, "kiosk-b", "an-older-visit") == 0  # only the visit named ends
    assert presence.leave(STORE, "kiosk-b", "visit-3") == 1 and presence.stays([SHOPPER, OTHER]) == {}


def test_a_stay_ends_at_its_bound_when_no_word_came(store: ProfileStore) -> None:
    now = [datetime(2025, 3, 1, 10, 0, tzinfo=UTC)]
    presence = Presence(sa.create_engine(store.url), bound_s=60, clock=lambda: now[0])
    presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT)
    now[0] += timedelta(seconds=59)
    assert presence.stay_of(SHOPPER) is not None
    now[0] += timedelta(seconds=1)
    assert presence.stay_of(SHOPPER) is None  # no longer pushed to, and then forgotten
    assert presence.expire() == 1 and presence.expire() == 0


def test_a_change_goes_to_the_kiosk_where_its_shopper_stands_and_nowhere_else(store: ProfileStore) -> None:
    publisher = RecordingPublisher()
    web_add(store, "COAT-WOOL-GRY")  # before the pusher's first start: in every profile pulled since
    store.presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT)
    pusher = pusher_of(store, publisher)
    try:
        pushed = web_add(store, "BOOT-CHELSEA-BLK")
        web_add(store, "BAG-TOTE-BRN", shopper=OTHER)  # signed in nowhere
        own = web_add(store, "BOOT-CHELSEA-TAN", store_id=STORE, kiosk="kiosk-a")  # made at that very kiosk
        assert eventually(lambda: pusher.stats.cursor == own, 10)
        [(topic, change, properties)] = publisher.sent
        assert topic == kiosk_topics(STORE, "kiosk-a").profile_changes
        assert (change.cursor, str(change.session), change.sku) == (pushed, VISIT, "BOOT-CHELSEA-BLK")
        assert properties == {"MessageExpiryInterval": int(store.presence.bound_s)}
        assert (pusher.stats.pushed, pusher.stats.nobody_there, pusher.stats.not_echoed) == (1, 1, 1)
    finally:
        pusher.stop()


def test_a_push_the_broker_did_not_take_is_sent_again_and_the_cursor_waits_for_it(store: ProfileStore) -> None:
    publisher = RecordingPublisher()
    store.presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT)
    pusher = pusher_of(store, publisher)
    try:
        publisher.failures = 2
        first = web_add(store, "BOOT-CHELSEA-BLK")
        second = web_add(store, "BAG-TOTE-BRN")
        assert eventually(lambda: pusher.stats.cursor == second, 10)
        assert publisher.cursors() == [first, second] and pusher.stats.failures == 2
    finally:
        pusher.stop()


def test_a_pusher_started_again_resumes_from_its_kept_cursor(store: ProfileStore) -> None:
    publisher = RecordingPublisher()
    store.presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT)
    pusher = pusher_of(store, publisher)
    first = web_add(store, "BOOT-CHELSEA-BLK")
    assert eventually(lambda: pusher.stats.cursor == first, 10)
    pusher.stop()
    missed = [web_add(store, "BAG-TOTE-BRN"), web_add(store, "COAT-WOOL-GRY")]  # while HQ was down
    again = pusher_of(store, publisher)
    try:
        assert again.stats.resumed_from == first
        assert eventually(lambda: again.stats.cursor == missed[-1], 10)
        assert publisher.cursors() == [first, *missed]  # nothing lost, nothing twice
        first_start = pusher_of(store, publisher, name="another-hq")
        first_start.stop()
        assert first_start.stats.resumed_from == missed[-1]  # a first start begins at the log's end
    finally:
        again.stop()


def test_an_erase_is_pushed_and_then_where_the_shopper_stood_is_forgotten(store: ProfileStore) -> None:
    publisher = RecordingPublisher()
    store.presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT)
    pusher = pusher_of(store, publisher)
    try:
        added = web_add(store, "BOOT-CHELSEA-BLK")
        assert eventually(lambda: pusher.stats.cursor == added, 10)  # an erase takes earlier changes off the log
        store.erase(SHOPPER, by="web")
        erased = store.changes.latest()
        assert eventually(lambda: pusher.stats.cursor == erased, 10)
        assert [change.kind.value for _, change, _ in publisher.sent] == ["wishlist_add", "erase"]
        assert store.presence.stay_of(SHOPPER) is None
    finally:
        pusher.stop()


def test_an_order_goes_to_no_kiosk_of_before_orders_and_holds_back_no_later_change(store: ProfileStore) -> None:
    publisher = RecordingPublisher()
    store.presence.arrive(SHOPPER, STORE, "kiosk-a", VISIT, v=3)  # a kiosk of version 3 reads coupons, not orders
    pusher = pusher_of(store, publisher)
    try:
        store.orders.place(Order("web-1001", SHOPPER, "web", "online", datetime.now(UTC),
                                 (OrderLine("BOOT-CHELSEA-BLK", "40", 1, Decimal("129.90")),)))
        placed = store.changes.latest()
        assert store.changes.page(placed - 1, 1)[0].kind == "order_placed"
        added = web_add(store, "BAG-TOTE-BRN")
        assert eventually(lambda: pusher.stats.cursor == added, 10)
        assert publisher.cursors() == [added] and pusher.stats.too_new == 1
    finally:
        pusher.stop()
