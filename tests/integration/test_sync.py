"""Kiosk outbox -> MQTT link -> real Mosquitto -> HQ ingest: nothing lost, nothing doubled."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import BrokerUrl, KioskFacts, KioskLink, Outbox
from hq import IngestWorker, ProfileStore
from kiosk_app import Kiosk
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import (
    EventKind,
    KioskStatus,
    LinkState,
    Role,
    SyncError,
    card_verifier,
    decode_status,
    encode_event,
    events_topic,
    issue_token,
    load_catalog,
    new_event,
)
from nfc_reader import TagKind, TagRead
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE, KIOSK = "madrid-centro", "kiosk-01"
SHOPPER, BOOT, TOTE = "shopper-0042", "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"



def enqueue_views(outbox: Outbox, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        event_id = uuid.uuid4()
        ids.append(str(event_id))
        outbox.enqueue(events_topic(STORE, KIOSK), lambda seq, event_id=event_id: encode_event(new_event(
            kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=seq, session=uuid.uuid4(), shopper=None,
            sku="BOOT-1", event_id=event_id)))
    return ids


def test_every_event_reaches_hq_once_and_leaves_the_outbox(mosquitto: Mosquitto, hq_ingest: IngestWorker,
                                                           tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    ids = enqueue_views(outbox, 200)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: hq_ingest.store.event_count() == 200 and len(outbox) == 0)
        assert all(hq_ingest.store.has_event(i) for i in ids)
    finally:
        link.stop()


def test_broker_dying_mid_stream_loses_and_doubles_nothing(mosquitto: Mosquitto, hq_ingest: IngestWorker,
                                                          tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        ids = enqueue_views(outbox, 100)
        mosquitto.stop()  # mid-stream: some sent, some not
        ids += enqueue_views(outbox, 100)  # the kiosk keeps working offline
        assert not link.connected or eventually(lambda: not link.connected, 5)
        mosquitto.start()
        assert eventually(lambda: len(outbox) == 0, 40)
        assert eventually(lambda: hq_ingest.store.event_count() == 200, 40)
        assert all(hq_ingest.store.has_event(i) for i in ids)
    finally:
        link.stop()


def test_unsent_events_survive_a_kiosk_restart(mosquitto: Mosquitto, hq_ingest: IngestWorker, tmp_path: Path) -> None:
    offline = Outbox(tmp_path / "outbox.sqlite")
    ids = enqueue_views(offline, 20)  # written while the kiosk had no link at all
    offline.close()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: len(outbox) == 0 and hq_ingest.store.event_count() == 20)
        assert all(hq_ingest.store.has_event(i) for i in ids)
    finally:
        link.stop()


def test_foreign_payloads_are_rejected_counted_and_do_not_stop_ingest(mosquitto: Mosquitto, hq_ingest: IngestWorker,
                                                                      tmp_path: Path) -> None:
    intruder = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="intruder")
    intruder.connect("127.0.0.1", mosquitto.port)
    intruder.loop_start()
    for payload in (b"\xff\xfe", b'{"v": 9}', b"[]", encode_event(new_event(
            kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk="kiosk-99", seq=1, session=uuid.uuid4(), shopper=None,
            sku="BOOT-1"))):
        intruder.publish(events_topic(STORE, KIOSK), payload, qos=1).wait_for_publish(5)
    intruder.loop_stop()
    intruder.disconnect()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    ids = enqueue_views(outbox, 3)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: hq_ingest.store.event_count() == 3)
        assert hq_ingest.stats.rejected == 4
        assert all(hq_ingest.store.has_event(i) for i in ids)
    finally:
        link.stop()


def test_a_touched_suggestion_reaches_hq_as_its_own_kind_and_joins_the_profile_as_a_view(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    kiosk = Kiosk(load_catalog(demo_catalog_path()), outbox, STORE, KIOSK, verify_card=card_verifier(
        hq_key[0].public_key()))
    kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=BOOT))
    kiosk.touch_suggestion(TOTE, beside=BOOT)  # before sign-in: anonymous
    kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)))
    kiosk.consent(True)
    kiosk.touch_suggestion(BOOT, beside=TOTE)  # signed in and consenting: under the shopper's name
    kiosk.suggestions_shown(BOOT, [TOTE])
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: len(outbox) == 0)  # every one receipted
    finally:
        link.stop()
    stats = hq_ingest.stats
    assert (stats.stored, stats.rejected, stats.refused_no_card_proof) == (6, 0, 0)
    # Each touch is kept as its own kind, with the product it was beside; the visit's
    # anonymous ones joined the profile with the consent; the suggestions shown beside a product too.
    profile = hq_ingest.store.profile(SHOPPER)
    assert [(e.kind, e.sku, e.detail) for e in profile.history] == [
        ("visit_start", None, None), ("product_view", BOOT, None), ("suggestion_tap", TOTE, BOOT),
        ("consent", None, "granted"), ("suggestion_tap", BOOT, TOTE), ("suggestion_shown", BOOT, TOTE)]
    assert [e.sku for e in profile.views] == [BOOT, TOTE, BOOT]  # the shopper looked at each


@pytest.fixture
def statuses(mosquitto: Mosquitto) -> Iterator[list[KioskStatus]]:
    """Every kiosk status the broker delivers, in order, as a watcher at HQ hears them."""
    seen: list[KioskStatus] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = lambda client, userdata, message: seen.append(decode_status(message.payload))
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe("kiosk/+/+/status", qos=1)
    watcher.loop_start()
    yield seen
    watcher.disconnect()
    watcher.loop_stop()


def test_kiosk_status_is_retained_online_then_offline(mosquitto: Mosquitto, statuses: list[KioskStatus],
                                                      tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    enqueue_views(outbox, 2)  # a backlog: no HQ receipts them here
    facts = KioskFacts(app_version="1.2.3", catalog_version=42, reader="online")
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox, facts=lambda: facts)
    link.start()
    try:
        assert eventually(lambda: any(s.state is LinkState.ONLINE for s in statuses), 10)
        online = next(s for s in statuses if s.state is LinkState.ONLINE)
        assert (online.app_version, online.catalog_version, online.reader, online.backlog) == ("1.2.3", 42,
                                                                                               "online", 2)
    finally:
        link.stop()
    assert eventually(lambda: statuses[-1].state is LinkState.OFFLINE, 10)


def test_kiosk_that_dies_is_marked_offline_by_its_last_will(mosquitto: Mosquitto, statuses: list[KioskStatus],
                                                            tmp_path: Path) -> None:
    kiosk = subprocess.Popen([sys.executable, "-m", "testkit.chaos", "kiosk", "--broker", mosquitto.url,
                              "--kiosk", "kiosk-dies", "--db", str(tmp_path / "k.sqlite"), "--count", "100000",
                              "--rate", "1"])
    try:
        assert eventually(lambda: any(s.state is LinkState.ONLINE for s in statuses), 20)
        kiosk.kill()  # the tablet loses power: no goodbye, only the will
        kiosk.wait()
        assert eventually(lambda: statuses[-1].state is LinkState.OFFLINE, 20)
        assert statuses[-1].kiosk == "kiosk-dies"
    finally:
        kiosk.kill()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.store:1883", "mqtt://broker.store:1883"),
        ("mqtt://127.0.0.1", "mqtt://127.0.0.1:1883"),
        ("mqtt://127.0.0.1:1884?protocol=3.1.1", "mqtt://127.0.0.1:1884?protocol=3.1.1"),
    ],
)
def test_broker_urls(url: str, expected: str) -> None:
    assert str(BrokerUrl.parse(url)) == expected


@pytest.mark.parametrize("url", ["http://x:1883", "mqtt://", "mqtt://x:1883?protocol=4"])
def test_bad_broker_urls_are_refused(url: str) -> None:
    with pytest.raises(SyncError):
        BrokerUrl.parse(url)


def test_events_sent_while_hq_is_down_wait_in_its_session_at_the_broker(mosquitto: Mosquitto, sqlite_url: str,
                                                                       tmp_path: Path) -> None:
    first = IngestWorker(mosquitto.url, ProfileStore(sqlite_url))
    first.start()
    assert first.subscribed.wait(10)
    first.stop()  # HQ goes down; its MQTT 5 session (and subscription) stays at the broker
    outbox = Outbox(tmp_path / "outbox.sqlite")
    ids = enqueue_views(outbox, 30)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: not outbox.due(resend_after_s=3600))  # the broker has them all
        assert len(outbox) == 30  # but HQ has not stored them: the kiosk keeps them
        mosquitto.stop()  # and the broker restarts too before HQ is back
        mosquitto.start()
        back = IngestWorker(mosquitto.url, first.store)
        back.start()
        try:
            assert eventually(lambda: first.store.event_count() == 30 and len(outbox) == 0)
            assert all(first.store.has_event(i) for i in ids)
            assert link.stats.resent == 0  # the broker kept them; nothing had to go twice
        finally:
            back.stop()
    finally:
        link.stop()
        first.store.close()


def test_broker_killed_after_puback_loses_nothing_because_the_kiosk_waits_for_hq(
        mosquitto: Mosquitto, sqlite_url: str, tmp_path: Path) -> None:
    store = ProfileStore(sqlite_url)
    first = IngestWorker(mosquitto.url, store)
    first.start()
    assert first.subscribed.wait(10)
    first.stop()  # HQ is away, so the broker only holds the events in memory
    outbox = Outbox(tmp_path / "outbox.sqlite")
    ids = enqueue_views(outbox, 40)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox, resend_after_s=2.0)
    link.start()
    try:
        assert eventually(lambda: not outbox.due(resend_after_s=3600))  # every event PUBACKed
        mosquitto.kill()  # SIGKILL: the broker never saved them
        mosquitto.start()
        back = IngestWorker(mosquitto.url, store)
        back.start()
        try:
            assert eventually(lambda: store.event_count() == 40 and len(outbox) == 0, 40)
            assert all(store.has_event(i) for i in ids)
            assert link.stats.resent >= 1  # the kiosk's resend is what saved them
        finally:
            back.stop()
    finally:
        link.stop()
        store.close()


def test_ingest_workers_share_the_load_through_a_shared_subscription(mosquitto: Mosquitto, sqlite_url: str,
                                                                    tmp_path: Path) -> None:
    store = ProfileStore(sqlite_url)
    workers = [IngestWorker(mosquitto.url, store, worker_id=f"hq-ingest-{n}", share_group="hq") for n in (1, 2)]
    for worker in workers:
        worker.start()
        assert worker.subscribed.wait(10)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    ids = enqueue_views(outbox, 300)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: store.event_count() == 300 and len(outbox) == 0)
        assert all(store.has_event(i) for i in ids)
        shares = [worker.stats.stored for worker in workers]
        assert sum(shares) == 300 and min(shares) > 0, shares  # both worked, nothing twice
    finally:
        link.stop()
        for worker in workers:
            worker.stop()
        store.close()


def test_an_event_the_database_refuses_is_rejected_without_stalling_ingest(mosquitto: Mosquitto, postgres_url: str,
                                                                           tmp_path: Path) -> None:
    import sqlalchemy as sa

    store = ProfileStore(postgres_url)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as db:  # a rule only the database knows, standing in for any row it refuses
        db.execute(sa.text("ALTER TABLE events ADD CONSTRAINT refuse_poison CHECK (sku <> 'POISON-1')"))
    engine.dispose()
    worker = IngestWorker(mosquitto.url, store)
    worker.start()
    assert worker.subscribed.wait(10)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    session = uuid.uuid4()
    for sku in ("BOOT-1", "POISON-1", "BAG-2"):
        outbox.enqueue(events_topic(STORE, KIOSK), lambda seq, sku=sku: encode_event(new_event(
            kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=seq, session=session, shopper=None, sku=sku)))
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: len(outbox) == 0)  # receipted, so the kiosk stops sending it
        assert [e.sku for e in store.history(f"session:{session}")] == ["BOOT-1", "BAG-2"]
        assert (worker.stats.stored, worker.stats.rejected) == (2, 1)
    finally:
        link.stop()
        worker.stop()
        store.close()
