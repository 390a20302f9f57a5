"""HQ's live side of a store, with real parts: a real Mosquitto, HQ's responder and live
follower, its API on a socket, and kiosk-side clients in plain paho with the contract's
messages. A hold at a kiosk and staff moving it on (API) reach that kiosk as updates; the
SKU's free units and the store's open requests are published retained after a hold, a
feed, a cancel and an expiry; a follower restarted resumes where it stopped; a shopper
signed in at a kiosk of the reservation's store is pushed its states; under the generated
ACL a kiosk of another store hears nothing of this store's topics; on PostgreSQL many
writers at once leave every published level equal to the database's."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import KioskLink, Outbox
from hq import (
    ApiKeys,
    ApiServer,
    BrokerSecurity,
    Grant,
    KeyRole,
    ProfilePusher,
    ProfileResponder,
    ProfileStore,
    StoreLiveFollower,
    create_app,
)
from hq._revisions import committed
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import (
    ChangeKind,
    OpenRequest,
    ProfileChange,
    ReservationKind,
    ReservationState,
    Role,
    StockLevel,
    decode,
    issue_token,
    load_catalog,
    stock_topic,
)
from kiosk_protocol._cards import card_verifier
from testkit.mosquitto import Mosquitto
from testkit.store_kiosk import StoreKiosk
from testkit.waiting import eventually

STORE, OTHER, KIOSK = "madrid-centro", "barcelona-diagonal", "kiosk-01"
BOOT = "BOOT-CHELSEA-BLK"  # in the demo catalog, madrid-centro: 38:2 39:0 40:5 41:1 42:3
SHOPPER = "shopper-0042"
KEYS = {"web": "web-key-0123456789abcdef", "madrid-staff": "madrid-key-0123456789abcdef"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, STORE)}
RESERVATIONS = f"/v1/stores/{STORE}/reservations"


class Hq:
    """HQ on one database: responder, live follower and profile pusher on its connection, API on a socket."""

    def __init__(self, broker: str, db_url: str, hq_key: Ed25519PrivateKey) -> None:
        self.store = ProfileStore(db_url)
        self.store.stock.load_catalog(load_catalog(demo_catalog_path()))
        self.responder = ProfileResponder(broker, self.store, card_verifier(hq_key.public_key()))
        self.responder.start()
        assert self.responder.subscribed.wait(10)
        self.follower = self.follow()
        self.pusher = ProfilePusher(self.store, self.responder, poll_s=0.02)
        self.pusher.start()
        assert self.pusher.started.wait(10)
        self.api = ApiServer(create_app(self.store, ApiKeys(KEYS, grants=GRANTS), responder=self.responder),
                             port=free_port())
        self.api.start()
        self.staff = httpx.Client(base_url=self.api.url, headers={"X-Api-Key": KEYS["madrid-staff"]}, timeout=30)

    def follow(self) -> StoreLiveFollower:
        follower = StoreLiveFollower(self.store, self.responder, poll_s=0.02)
        follower.start()
        assert follower.started.wait(10)
        return follower

    def published_all(self) -> bool:
        """The follower has published every revision committed so far."""
        with self.store.engine.connect() as db:
            return self.follower.stats.cursor >= committed(db)

    def move(self, reservation: uuid.UUID, state: str, note: str | None = None) -> Any:
        answer = self.staff.post(f"{RESERVATIONS}/{reservation.hex}/state",
                                 json={"state": state, **({"note": note} if note else {})})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def close(self) -> None:
        self.staff.close()
        self.api.stop()
        self.pusher.stop()
        self.follower.stop()
        self.responder.stop()
        self.store.close()


def _hq(mosquitto: Mosquitto, url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Hq]:
    server = Hq(mosquitto.url, url, hq_key[0])
    yield server
    server.close()


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Hq]:
    yield from _hq(mosquitto, sqlite_url, hq_key)


@pytest.fixture
def pg_hq(mosquitto: Mosquitto, postgres_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Hq]:
    yield from _hq(mosquitto, postgres_url, hq_key)


@pytest.fixture
def kiosk(mosquitto: Mosquitto, hq: Hq) -> Iterator[StoreKiosk]:
    client = StoreKiosk(mosquitto.url, STORE, KIOSK)
    yield client
    client.close()


def _free(kiosk: StoreKiosk, size: str) -> int | None:
    """What the newest level of the boot the kiosk heard says is free in ``size``."""
    levels = kiosk.levels(BOOT)
    return levels[-1].available.get(size) if levels else None


def _open(kiosk: StoreKiosk) -> list[OpenRequest] | None:
    """The store's open requests in the newest list the kiosk heard (None before the first)."""
    lists = kiosk.requests()
    return list(lists[-1].requests) if lists else None


def test_a_hold_at_the_kiosk_and_staff_moving_it_on_reach_that_kiosk(hq: Hq, kiosk: StoreKiosk) -> None:
    assert kiosk.wait_for(lambda: _free(kiosk, "41") == 1)  # the first start's levels, retained
    visit = uuid.uuid4()
    made = kiosk.ask(BOOT, "41", session=visit).reservation
    assert made is not None
    assert kiosk.wait_for(lambda: _free(kiosk, "41") == 0)
    assert kiosk.wait_for(lambda: [r.reservation_id for r in _open(kiosk) or []] == [made.reservation_id])
    listed = (_open(kiosk) or [])[0]
    assert (listed.kiosk, listed.sku, listed.size, listed.state) == (KIOSK, BOOT, "41", ReservationState.HELD)

    hq.move(made.reservation_id, "taken")
    hq.move(made.reservation_id, "ready", note="fitting room 2")
    assert kiosk.wait_for(lambda: [u.reservation.state for u in kiosk.updates()][-1:] == [ReservationState.READY])
    updates = kiosk.updates()
    assert all(u.session == visit and u.reservation.reservation_id == made.reservation_id for u in updates)
    assert [u.stamp for u in updates] == sorted({u.stamp for u in updates})  # each newer than the one before
    assert updates[-1].reservation.note == "fitting room 2"
    assert kiosk.wait_for(lambda: [r.state for r in _open(kiosk) or []] == [ReservationState.READY])

    hq.staff.delete(f"{RESERVATIONS}/{made.reservation_id.hex}").raise_for_status()
    assert kiosk.wait_for(lambda: kiosk.updates()[-1].reservation.state is ReservationState.CANCELLED)
    assert kiosk.wait_for(lambda: _free(kiosk, "41") == 1 and _open(kiosk) == [])


def test_a_hold_over_the_api_moves_the_stores_level_and_list_but_tells_no_kiosk(hq: Hq, kiosk: StoreKiosk) -> None:
    assert kiosk.wait_for(lambda: _free(kiosk, "40") == 5)
    answer = hq.staff.post(RESERVATIONS, json={"sku": BOOT, "size": "40", "kind": "fitting_room"})
    assert answer.status_code == 201, answer.text
    assert kiosk.wait_for(lambda: _free(kiosk, "40") == 4)
    assert kiosk.wait_for(lambda: [r.kiosk for r in _open(kiosk) or []] == [None])
    assert kiosk.updates() == [] and hq.follower.stats.updates == 0


def test_a_feed_and_an_expiry_are_published_retained_for_a_kiosk_that_comes_up_later(
        hq: Hq, kiosk: StoreKiosk, mosquitto: Mosquitto) -> None:
    made = kiosk.ask(BOOT, "42").reservation
    assert made is not None
    answer = hq.staff.put(f"/v1/stores/{STORE}/stock", json={"version": 1, "stock": {BOOT: {"42": 7}}})
    assert answer.status_code == 200, answer.text
    assert kiosk.wait_for(lambda: _free(kiosk, "42") == 6)  # seven on hand, one of them held
    held = hq.store.reservations.get(STORE, made.reservation_id.hex)
    assert held is not None
    assert hq.store.reservations.expire_due(held.expires_at + timedelta(seconds=1)) == 1
    assert kiosk.wait_for(lambda: kiosk.updates()[-1:] != [] and
                          kiosk.updates()[-1].reservation.state is ReservationState.EXPIRED)
    assert kiosk.wait_for(lambda: _free(kiosk, "42") == 7)
    assert kiosk.wait_for(hq.published_all)
    later = StoreKiosk(mosquitto.url, STORE, "kiosk-02")
    try:
        assert later.wait_for(lambda: any(h.topic == stock_topic(STORE, BOOT) for h in later.heard))
        boot = [h for h in later.heard if h.topic == stock_topic(STORE, BOOT)]
        assert boot[0].retained and decode(StockLevel, boot[0].payload).available["42"] == 7
        assert later.wait_for(lambda: _open(later) is not None)
        assert _open(later) == [] and later.updates() == []
    finally:
        later.close()


def test_a_follower_restarted_resumes_where_it_stopped(hq: Hq, kiosk: StoreKiosk) -> None:
    made = kiosk.ask(BOOT, "40").reservation
    assert made is not None and kiosk.wait_for(hq.published_all)
    hq.follower.stop()
    kept = hq.follower.stats.cursor
    hq.move(made.reservation_id, "taken")  # while no follower runs
    hq.follower = hq.follow()
    assert hq.follower.stats.resumed_from == kept
    assert kiosk.wait_for(lambda: kiosk.updates()[-1:] != [] and
                          kiosk.updates()[-1].reservation.state is ReservationState.TAKEN)
    assert [u.reservation.state for u in kiosk.updates()].count(ReservationState.TAKEN) == 1


def test_a_shopper_signed_in_at_a_kiosk_of_the_store_is_pushed_their_reservations_states(
        hq: Hq, mosquitto: Mosquitto, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    pushed: list[ProfileChange] = []
    link = KioskLink(mosquitto.url, STORE, "kiosk-02", Outbox(tmp_path / "outbox.sqlite"),
                     on_profile_change=pushed.append)
    link.start()
    try:
        assert link.subscribed.wait(10)
        visit = uuid.uuid4()
        card = issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)
        assert link.request_profile(SHOPPER, card, timeout_s=10, session=visit) is not None
        here = hq.store.reservations.hold(STORE, BOOT, "40", SHOPPER, ReservationKind.COLLECT, None, "web")
        hq.store.reservations.hold(OTHER, BOOT, "40", SHOPPER, ReservationKind.COLLECT, None, "web")
        hq.move(uuid.UUID(here.reservation_id), "ready", note="at the counter")
        assert eventually(lambda: [c.reservation.state for c in pushed if c.reservation] ==
                          [ReservationState.HELD, ReservationState.READY], 10)
        assert all(c.kind is ChangeKind.RESERVATION and c.session == visit and c.v == 3 for c in pushed)
        assert {c.reservation.reservation_id.hex for c in pushed if c.reservation} == {here.reservation_id}
        assert eventually(lambda: hq.pusher.stats.other_store == 1, 10)
    finally:
        link.stop()


def test_a_kiosk_of_another_store_hears_nothing_of_this_stores_topics(
        tmp_path: Path, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    security = BrokerSecurity(tmp_path / "broker-security")
    security.init("Madrid Centro", ["127.0.0.1"])
    logins = {"madrid": security.provision_kiosk(STORE, KIOSK), "bcn": security.provision_kiosk(OTHER, KIOSK),
              **security.provision_hq(workers=1)}
    broker = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    broker.start()

    def url(who: str) -> str:
        return logins[who].broker_url("127.0.0.1", broker.port, security.ca_cert)

    server = Hq(url("profiles"), sqlite_url, hq_key[0])
    madrid = StoreKiosk(url("madrid"), STORE, KIOSK)
    bcn = StoreKiosk(url("bcn"), OTHER, KIOSK)
    try:
        bcn._client.subscribe([(f"store/{STORE}/#", 1), ("store/#", 1), (f"kiosk/{STORE}/{KIOSK}/reservation/#", 1)])
        assert madrid.wait_for(lambda: _free(madrid, "41") == 1) and bcn.wait_for(lambda: bool(bcn.levels()))
        # Barcelona's kiosk asks on Madrid's kiosk's topic: the broker passes it to no one.
        bcn.publish(madrid.topics.request, b'{"v": 1}')
        made = madrid.ask(BOOT, "41").reservation
        assert made is not None
        server.move(made.reservation_id, "taken")
        assert madrid.wait_for(lambda: madrid.updates()[-1:] != [] and
                               madrid.updates()[-1].reservation.state is ReservationState.TAKEN)
        assert madrid.wait_for(lambda: _free(madrid, "41") == 0)
        assert eventually(server.published_all, 10)
        # What Barcelona heard is its own store's, and nothing else: not Madrid's levels, list or updates.
        assert {h.topic.split("/")[1] for h in bcn.heard} == {OTHER} and bcn.updates() == []
        assert server.responder.stats.rejected == 0  # Barcelona's forged request never reached HQ
    finally:
        bcn.close()
        madrid.close()
        server.close()
        broker.stop()


def test_many_writers_at_once_on_postgresql_leave_every_published_level_equal_to_the_database(
        pg_hq: Hq, mosquitto: Mosquitto) -> None:
    kiosks = [StoreKiosk(mosquitto.url, STORE, f"kiosk-{n:02d}") for n in range(1, 11)]
    start = threading.Barrier(20)
    answers: list[str] = []

    def over_mqtt(kiosk: StoreKiosk) -> None:
        start.wait(10)
        answer = kiosk.ask(BOOT, "41")
        answers.append("held" if answer.reservation else str(answer.error))

    def over_the_api() -> None:
        with httpx.Client(base_url=pg_hq.api.url, headers={"X-Api-Key": KEYS["web"]}, timeout=30) as web:
            start.wait(10)
            for size in ("41", "38", "40", "42"):
                answer = web.post(RESERVATIONS, json={"sku": BOOT, "size": size, "kind": "fitting_room"})
                if size == "41":
                    answers.append("held" if answer.status_code == 201 else answer.json()["error"])

    threads = [threading.Thread(target=over_mqtt, args=(k,)) for k in kiosks]
    threads += [threading.Thread(target=over_the_api) for _ in range(10)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(answers) == ["held"] + ["out_of_stock"] * 19  # the last unit, once
        assert eventually(pg_hq.published_all, 20)
        in_db = {row.size: row.available for row in pg_hq.store.stock.of(STORE, BOOT)}
        assert kiosks[0].wait_for(lambda: kiosks[0].levels(BOOT)[-1].available == in_db)
        assert in_db["41"] == 0 and in_db["38"] == 0 and in_db["40"] == 0
        assert kiosks[0].wait_for(lambda: len(_open(kiosks[0]) or []) == 11)
        assert len(_open(kiosks[0]) or []) == len(pg_hq.store.reservations.open_in(STORE)) == 1 + 2 + 5 + 3
    finally:
        for kiosk in kiosks:
            kiosk.close()
