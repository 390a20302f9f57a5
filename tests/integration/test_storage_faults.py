"""The kiosk's storage failing under it, for real: damaged catalog files, a damaged outbox,
a full disk. The kiosk keeps serving taps, loses nothing it can keep, and says what
happened in staff mode, its status and HQ's dashboard."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import AlertKind, ApiKeys, ApiServer, FleetView, IngestWorker, create_app
from hq._files import FileServer
from hq._publish import CatalogPublisher
from kiosk_app import KioskConfig, KioskRuntime, Mode
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.kiosk import OutcomeKind, TapOutcome
from kiosk_app.staff import PinVerdict, pin_file, write_pin
from kiosk_app.ui.present import health_rows
from kiosk_protocol import Catalog, KioskStatus, ProfileResponse, Role, issue_token, load_catalog
from nfc_reader import TagEmulator, TagKind, TagRead, encode_badge, encode_product
from testkit.disk import fill_disk
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE, KIOSK = "madrid-centro", "kiosk-01"
SHIPPED = load_catalog(demo_catalog_path())
SKU = SHIPPED.products[0].sku
HQ_KEYS = {"hq": "hq-key-0123456789abcdef0"}


def config(data_dir: Path, broker: str, hq_pem: Path, reader: str = "udp:127.0.0.1:9") -> KioskConfig:
    return KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog_path(), reader=reader, broker=broker,
                       data_dir=data_dir, hq_public_key=hq_pem)


def tap(sku: str = SKU) -> TagRead:
    return TagRead(TagKind.PRODUCT, "01", sku=sku)


def status_of(fleet: FleetView, holds: Callable[[KioskStatus], bool]) -> KioskStatus:
    """The kiosk's status as HQ's fleet view has it, once it says what the test waits for."""
    assert eventually(lambda: (view := fleet.kiosk(STORE, KIOSK)) is not None and holds(view.status), 20)
    view = fleet.kiosk(STORE, KIOSK)
    assert view is not None
    return view.status


def alerts(fleet: FleetView) -> list[AlertKind]:
    view = fleet.kiosk(STORE, KIOSK)
    return [] if view is None else [alert.kind for alert in view.alerts]


def stopped(runtime: KioskRuntime) -> None:
    runtime.link.stop()
    runtime.outbox.close()
    runtime.profiles.close()


# --- 7: a damaged catalog ------------------------------------------------------------


def _price_change(catalog_dir: Path, price: float) -> Path:
    path = catalog_dir / "demo.json"
    data = json.loads(path.read_text())
    next(p for p in data["products"] if p["sku"] == SKU)["price"] = price
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


@pytest.fixture
def delivered(tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> Callable[[int], Path]:
    """Deliver ``n`` signed catalog versions through a real file server into a kiosk's data dir (prices 101, 102...)."""
    catalog_dir = tmp_path / "hq-catalog"
    shutil.copytree(demo_catalog_path().parent, catalog_dir)
    publisher = CatalogPublisher(tmp_path / "bundles", hq_key[0])

    def deliver(versions: int) -> Path:
        from backend_sync import CatalogUpdater

        data_dir = tmp_path / "kiosk"
        server = FileServer(publisher.directory, port=free_port())
        server.start()
        try:
            updater = CatalogUpdater(data_dir / "catalog", hq_key[0].public_key(), server.url)
            for version in range(1, versions + 1):
                updater.apply(publisher.publish(_price_change(catalog_dir, 100.0 + version)))
        finally:
            server.stop()
        return data_dir

    return deliver


def price_of(catalog: Catalog) -> float:
    product = catalog.product(SKU)
    assert product is not None
    return product.price


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated": _truncate,
    "empty": lambda path: path.write_bytes(b""),
    "not JSON": lambda path: path.write_bytes(b"\x00\x01 this is not a catalog \xff"),
    "missing": lambda path: path.unlink(),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_current_catalog_gives_way_to_the_previous_version_and_the_status_says_so(
        damage: str, delivered: Callable[[int], Path], mosquitto: Mosquitto, fleet: FleetView,
        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    data_dir = delivered(2)
    current = data_dir / "catalog" / "current" / "catalog.json"
    assert price_of(load_catalog(current)) == 102.0
    DAMAGES[damage](current)

    runtime = KioskRuntime(config(data_dir, mosquitto.url, hq_key[1]), on_outcome=lambda outcome: None)
    runtime.link.start()
    try:
        assert price_of(runtime.kiosk.catalog) == 101.0  # version 1, the last good one
        assert runtime.kiosk.handle(tap()).kind is OutcomeKind.PRODUCT
        assert runtime.catalog_updater.current_version == 1  # HQ's version 2 is taken again when announced
        assert (data_dir / "catalog" / "versions" / ".damaged-2").is_dir()  # set aside, not deleted
        fallback = runtime.health().catalog_fallback
        assert "version 2" in fallback and "using version 1" in fallback
        status = status_of(fleet, lambda s: bool(s.catalog_fallback))
        assert "using version 1" in status.catalog_fallback and status.catalog_version == 1
        assert AlertKind.CATALOG_FALLBACK in alerts(fleet)
        [catalog_row] = [row for row in health_rows(runtime.health(), "en") if row.label == "Catalog"]
        assert not catalog_row.ok and "damaged" in catalog_row.value
    finally:
        stopped(runtime)


def test_after_a_fallback_hq_s_announced_version_is_taken_again_and_the_fallback_clears(
        mosquitto: Mosquitto, fleet: FleetView, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    from backend_sync import CatalogUpdater
    from hq import announce

    catalog_dir = tmp_path / "hq-catalog"
    shutil.copytree(demo_catalog_path().parent, catalog_dir)
    publisher = CatalogPublisher(tmp_path / "bundles", hq_key[0])
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    data_dir = tmp_path / "kiosk"
    updater = CatalogUpdater(data_dir / "catalog", hq_key[0].public_key(), server.url)
    updater.apply(publisher.publish(_price_change(catalog_dir, 101.0)))
    newest = publisher.publish(_price_change(catalog_dir, 102.0))
    updater.apply(newest)
    _truncate(data_dir / "catalog" / "current" / "catalog.json")
    announce(mosquitto.url, newest)  # retained, as HQ leaves it
    kiosk_config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog_path(), reader="udp:127.0.0.1:9",
                               broker=mosquitto.url, data_dir=data_dir, hq_public_key=hq_key[1], files_url=server.url)
    healed = threading.Event()
    runtime = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None, on_catalog=healed.set)
    assert price_of(runtime.kiosk.catalog) == 101.0 and runtime.catalog_fallback
    for worker in runtime.updates.values():
        worker.start()
    runtime.link.start()
    try:
        assert healed.wait(30)
        assert price_of(runtime.kiosk.catalog) == 102.0 and runtime.catalog_updater.current_version == 2
        assert runtime.health().catalog_fallback == ""
        assert status_of(fleet, lambda s: s.catalog_version == 2).catalog_fallback == ""
    finally:
        for worker in runtime.updates.values():
            worker.stop()
        stopped(runtime)
        server.stop()


@pytest.mark.parametrize("damage", DAMAGES)
def test_with_no_good_version_left_the_kiosk_starts_on_the_catalog_it_shipped_with(
        damage: str, delivered: Callable[[int], Path], mosquitto: Mosquitto, fleet: FleetView,
        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    data_dir = delivered(1)
    DAMAGES[damage](data_dir / "catalog" / "current" / "catalog.json")

    runtime = KioskRuntime(config(data_dir, mosquitto.url, hq_key[1]), on_outcome=lambda outcome: None)
    runtime.link.start()
    try:
        assert runtime.kiosk.catalog == SHIPPED
        assert runtime.catalog_file == demo_catalog_path()  # its images too
        assert runtime.catalog_updater.current_version == 0
        status = status_of(fleet, lambda s: bool(s.catalog_fallback))
        assert "shipped with" in status.catalog_fallback
    finally:
        stopped(runtime)


def test_a_damaged_model_file_leaves_the_kiosk_suggesting_from_its_catalog(
        hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    models = tmp_path / "kiosk" / "model"
    (models / "versions" / "1").mkdir(parents=True)
    (models / "versions" / "1" / "model.bin").write_bytes(b"truncated")
    (models / "current").symlink_to("versions/1")
    runtime = KioskRuntime(config(tmp_path / "kiosk", "mqtt://127.0.0.1:9", hq_key[1]), on_outcome=lambda o: None)
    try:
        assert runtime.kiosk.recommender is None  # started all the same
        runtime.start()  # which builds the catalog's content model aside
        assert eventually(lambda: runtime.kiosk.recommender is not None)
        assert runtime.kiosk.handle(tap()).suggestions
    finally:
        runtime.stop()


def test_a_sound_catalog_is_used_without_a_word(delivered: Callable[[int], Path],
                                                hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    runtime = KioskRuntime(config(delivered(2), "mqtt://127.0.0.1:9", hq_key[1]), on_outcome=lambda outcome: None)
    try:
        assert price_of(runtime.kiosk.catalog) == 102.0 and runtime.health().catalog_fallback == ""
    finally:
        runtime.outbox.close()
        runtime.profiles.close()


# --- 8: a damaged outbox ---------------------------------------------------------------


def hq_seqs(sqlite_url: str) -> list[int]:
    """Every sequence HQ stored for the kiosk, as stored (a repeated one would show twice)."""
    engine = sa.create_engine(sqlite_url)
    try:
        with engine.connect() as db:
            return sorted(db.execute(sa.text("SELECT seq FROM events WHERE store = :s AND kiosk = :k"),
                                     {"s": STORE, "k": KIOSK}).scalars())
    finally:
        engine.dispose()


def tap_and_deliver(runtime: KioskRuntime, hq_ingest: IngestWorker, taps: int) -> None:
    """``taps`` product taps, and the visit's start before them when they begin one, all at HQ."""
    before = hq_ingest.store.event_count() + (runtime.kiosk.session.started_at is None)
    for _ in range(taps):
        assert runtime.kiosk.handle(tap()).event_id is not None
    assert eventually(lambda: hq_ingest.store.event_count() == before + taps)
    assert eventually(lambda: len(runtime.outbox) == 0)  # HQ's receipts came back


OUTBOX_DAMAGES: dict[str, Callable[[Path], None]] = {"truncated": _truncate,
                                                     "zero bytes": lambda path: path.write_bytes(b"")}


@pytest.mark.parametrize("damage", OUTBOX_DAMAGES)
def test_a_damaged_outbox_is_set_aside_and_the_new_one_continues_above_what_hq_holds(
        damage: str, mosquitto: Mosquitto, hq_ingest: IngestWorker, sqlite_url: str, fleet: FleetView,
        hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    kiosk_config = config(tmp_path / "kiosk", mosquitto.url, hq_key[1])
    runtime = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None)
    runtime.link.start()
    try:
        tap_and_deliver(runtime, hq_ingest, 30)
    finally:
        stopped(runtime)
    outbox_file = kiosk_config.data_dir / "outbox.sqlite"
    OUTBOX_DAMAGES[damage](outbox_file)
    damaged_bytes = outbox_file.read_bytes()

    again = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None)  # it starts: no exception
    again.link.start()
    try:
        assert again.outbox.reset is not None
        [aside] = kiosk_config.data_dir.glob("outbox.sqlite.damaged-*")
        assert aside.read_bytes() == damaged_bytes  # kept as it was, under a name that says so
        assert again.health().outbox_reset == aside.name
        assert again.outbox.last_sequence() >= 30
        tap_and_deliver(again, hq_ingest, 10)
        seqs = hq_seqs(sqlite_url)  # each run's taps and its visit's start
        assert len(seqs) == 42 and len(set(seqs)) == 42  # no sequence twice at HQ
        assert min(seqs[31:]) > max(seqs[:31])
        status = status_of(fleet, lambda s: bool(s.outbox_reset))
        assert aside.name in status.outbox_reset
        assert AlertKind.OUTBOX_RESET in alerts(fleet)
        [storage] = [row for row in health_rows(again.health(), "en") if row.label == "Storage"]
        assert not storage.ok and aside.name in storage.value
    finally:
        stopped(again)
    third = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None)  # said until someone takes the file away
    try:
        assert third.outbox.reset is None and third.health().outbox_reset == aside.name
        assert aside.name in third.outbox_reset
    finally:
        third.outbox.close()
        third.profiles.close()


def test_the_dashboard_reports_a_replaced_outbox(mosquitto: Mosquitto, hq_ingest: IngestWorker, fleet: FleetView,
                                                 hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    kiosk_config = config(tmp_path / "kiosk", mosquitto.url, hq_key[1])
    kiosk_config.data_dir.mkdir()
    (kiosk_config.data_dir / "outbox.sqlite").write_bytes(b"SQLite format 3\x00 and then nothing useful")
    server = ApiServer(create_app(hq_ingest.store, ApiKeys(HQ_KEYS), broker_url=mosquitto.url, fleet=fleet),
                       port=free_port())
    server.start()
    runtime = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None)
    runtime.link.start()
    try:
        status_of(fleet, lambda s: bool(s.outbox_reset))
        answer = requests.get(f"{server.url}/fleet/api/kiosks", headers={"X-Api-Key": HQ_KEYS["hq"]}, timeout=10)
        [kiosk] = answer.json()["kiosks"]
        assert "set aside as outbox.sqlite.damaged-" in kiosk["outbox_reset"]
        assert "outbox_reset" in [alert["kind"] for alert in kiosk["alerts"]]
    finally:
        stopped(runtime)
        server.stop()


def test_a_kiosk_that_lost_its_data_continues_above_hq_s_highest_sequence_after_one_receipt(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    first = KioskRuntime(config(tmp_path / "old-tablet", mosquitto.url, hq_key[1]), on_outcome=lambda outcome: None)
    first.link.start()
    try:
        tap_and_deliver(first, hq_ingest, 20)
    finally:
        stopped(first)
    floor = json.loads((tmp_path / "old-tablet" / "outbox-floor.json").read_bytes())["seq"]
    assert floor == 21  # 20 taps and their visit's start, kept apart from the outbox

    replaced = KioskRuntime(config(tmp_path / "new-tablet", mosquitto.url, hq_key[1]), on_outcome=lambda o: None)
    replaced.link.start()
    try:
        tap_and_deliver(replaced, hq_ingest, 1)  # its receipt says HQ holds up to 21
        assert replaced.sequence_floor.value == 21
        assert replaced.outbox.last_sequence() == 21
        tap_and_deliver(replaced, hq_ingest, 1)
        assert max(hq_seqs(str(hq_ingest.store.url))) == 22
    finally:
        stopped(replaced)


# --- 9: a full disk ----------------------------------------------------------------------


def test_a_full_disk_still_shows_the_product_counts_the_lost_event_and_says_so(
        small_disk: Path, mosquitto: Mosquitto, fleet: FleetView, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    kiosk_config = config(small_disk / "kiosk", mosquitto.url, hq_key[1], reader=emulator.path)
    write_pin(pin_file(kiosk_config.data_dir), "2468")
    outcomes: list[TapOutcome] = []
    arrived = threading.Event()

    def on_outcome(outcome: TapOutcome) -> None:
        outcomes.append(outcome)
        arrived.set()

    runtime = KioskRuntime(kiosk_config, on_outcome=on_outcome)
    runtime.link.start()
    runtime.reader.start()
    filler = fill_disk(small_disk)
    try:
        assert emulator.tap(encode_product(SHIPPED.shop_url, SKU))
        assert arrived.wait(10)
        [shown] = outcomes
        assert shown.kind is OutcomeKind.PRODUCT and shown.product is not None and shown.product.sku == SKU
        assert shown.event_id is None  # not recorded, and counted: the view and the visit's start
        assert runtime.kiosk.counters.events_not_recorded == 2 and len(runtime.outbox) == 0
        health = runtime.health()
        assert health.disk_full
        [storage] = [row for row in health_rows(health, "en") if row.label == "Storage"]
        assert not storage.ok and storage.value == "Disk full: 2 events not recorded"
        assert status_of(fleet, lambda s: s.disk_full).disk_full
        assert AlertKind.DISK_FULL in alerts(fleet)
        # Staff can still get in: a badge, and the PIN pad (its wrong tries cannot be saved, and that is no crash).
        assert runtime.staff_pin.check("1111").verdict is PinVerdict.WRONG
        assert runtime.staff_pin.check("2468").verdict is PinVerdict.ACCEPTED
        arrived.clear()
        assert emulator.tap(encode_badge(issue_token(hq_key[0], "staff-7", Role.STAFF, 600)))
        assert arrived.wait(10) and outcomes[-1].kind is OutcomeKind.STAFF_SIGNED_IN
        runtime.kiosk.machine.leave_staff()
        runtime.lock("staff")  # its lock file cannot be written: locked all the same, for now
        assert runtime.kiosk.machine.mode is Mode.LOCKED
        runtime.unlock()
        runtime.profiles.put(ProfileResponse(request_id=uuid.uuid4(), shopper="shopper-0042"))  # not cached, no crash
        assert runtime.profiles.write_failures == 1

        filler.unlink()  # room again: the next tap is recorded and the status clears
        arrived.clear()
        assert emulator.tap(encode_product(SHIPPED.shop_url, SKU))
        assert arrived.wait(10) and outcomes[-1].event_id is not None
        assert not runtime.health().disk_full
        assert not status_of(fleet, lambda s: not s.disk_full).disk_full
    finally:
        runtime.reader.stop()
        stopped(runtime)
        emulator.close()


def test_a_kiosk_says_how_much_room_its_disk_has_left_and_hq_sees_it_nearly_full(
        small_disk: Path, mosquitto: Mosquitto, fleet: FleetView, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    runtime = KioskRuntime(config(small_disk / "kiosk", mosquitto.url, hq_key[1]), on_outcome=lambda outcome: None)
    runtime.link.start()
    try:
        status = status_of(fleet, lambda s: s.disk_free_mb is not None)
        assert status.disk_free_mb == shutil.disk_usage(small_disk).free // 2**20 == 0  # a 512 KB disk
        assert not status.disk_full  # events are still recorded: nearly full, not full
        assert AlertKind.DISK_LOW in alerts(fleet)
        [low] = [a for a in fleet.kiosk(STORE, KIOSK).alerts if a.kind is AlertKind.DISK_LOW]  # type: ignore[union-attr]
        assert low.message == "Disk nearly full: 0 MB free"
    finally:
        stopped(runtime)


def test_a_catalog_update_on_a_full_disk_is_refused_and_applies_once_there_is_room(
        small_disk: Path, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    from backend_sync import CatalogUpdater
    from kiosk_protocol import Refusal, UpdateRefused

    publisher = CatalogPublisher(tmp_path / "bundles", hq_key[0])
    envelope = publisher.publish(demo_catalog_path())
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    try:
        updater = CatalogUpdater(small_disk / "catalog", hq_key[0].public_key(), server.url)
        filler = fill_disk(small_disk)
        with pytest.raises(UpdateRefused) as refused:  # not an OSError that would end the update thread
            updater.apply(envelope)
        assert refused.value.reason is Refusal.STORAGE_FAILED and updater.current_version == 0
        filler.unlink()
        updater.apply(envelope)
        assert updater.current_version == 1
    finally:
        server.stop()


def test_the_link_keeps_draining_through_a_full_disk_and_forgets_the_events_once_there_is_room(
        small_disk: Path, mosquitto: Mosquitto, hq_ingest: IngestWorker) -> None:
    from backend_sync import KioskLink, Outbox, SequenceFloor
    from kiosk_protocol import encode_event, events_topic, new_event
    from kiosk_protocol.contract import EventKind

    outbox = Outbox(small_disk / "outbox.sqlite")
    session = uuid.uuid4()
    for _ in range(5):
        outbox.enqueue(events_topic(STORE, KIOSK), lambda seq: encode_event(new_event(
            kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=seq, session=session, shopper=None, sku=SKU)))
    filler = fill_disk(small_disk)
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox, resend_after_s=1.0,
                     sequence_floor=SequenceFloor(small_disk / "outbox-floor.json"))
    link.start()
    try:
        # HQ stores them, but the kiosk cannot even note a PUBACK or delete a receipted row.
        assert eventually(lambda: hq_ingest.store.event_count() == 5)
        assert eventually(lambda: link.stats.storage_errors > 0)
        assert len(outbox) == 5  # nothing lost meanwhile
        filler.unlink()
        assert eventually(lambda: len(outbox) == 0)  # sent again, receipted again, forgotten
        assert hq_ingest.store.event_count() == 5  # and never stored twice
    finally:
        link.stop()
        outbox.close()
