"""Signs through the real parts: a sign held to the kiosk's reader over nfcpy's udp driver
reaches the offer in a running KioskRuntime (offers.json beside its catalog), staff write one
on the kiosk's reader, and a manifest HQ signed after the kiosk's clock stops offers applying,
across a restart too."""

from __future__ import annotations

import queue
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq._files import FileServer
from hq._publish import CatalogPublisher
from kiosk_app import KioskConfig, KioskRuntime, OutcomeKind, TapOutcome
from kiosk_app._clock_trust import SignedTime
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import (
    EventKind,
    FileEntry,
    Manifest,
    Offer,
    Role,
    UpdateKind,
    decode_event,
    issue_token,
    offers_json,
    sign_manifest,
    unverified_manifest,
)
from nfc_reader import ReaderState, TagEmulator, TagKind, TagSource, encode_card, encode_offer, encode_offer_mime
from testkit.waiting import eventually

STORE = "madrid-centro"
SHOP = "https://shop.example.com"
NOW = datetime.now(UTC)


def offer(offer_id: str, **changes: object) -> Offer:
    fields: dict[str, object] = {
        "id": offer_id, "title": {"es": "Botas de invierno", "en": "Winter boots"},
        "terms": {"es": "Hasta fin de existencias", "en": "While stocks last"},
        "discount": {"kind": "percent", "value": 20}, "category": "footwear/boots", "stores": [STORE],
        "starts": NOW - timedelta(days=1), "ends": NOW + timedelta(days=1)}
    fields.update(changes)
    return Offer.model_validate(fields)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the demo catalog with its offers beside it, as an installed bundle holds them."""
    folder = tmp_path / "catalog"
    shutil.copytree(demo_catalog_path().parent, folder)
    (folder / "offers.json").write_bytes(offers_json([
        offer("WINTER-BOOTS"), offer("SUMMER", starts=NOW - timedelta(days=90), ends=NOW - timedelta(days=60)),
        offer("CLUB-BOOTS", audience="members", discount={"kind": "amount", "value": 30})]))
    return folder / demo_catalog_path().name


class Running:
    """A KioskRuntime reading the emulator, and the outcomes it hands the screen."""

    def __init__(self, config: KioskConfig) -> None:
        self.outcomes: queue.Queue[TapOutcome] = queue.Queue()
        self.runtime = KioskRuntime(config, on_outcome=self.outcomes.put)
        self.runtime.reader.start()
        assert eventually(lambda: self.runtime.reader_status.state is ReaderState.ONLINE, 10)

    def next_outcome(self) -> TapOutcome:
        return self.outcomes.get(timeout=5)

    def stop(self) -> None:
        self.runtime.reader.stop(timeout_s=0)
        self.runtime.outbox.close()
        self.runtime.profiles.close()


def kiosk_config(tmp_path: Path, catalog: Path, hq_pem: Path, reader: str,
                 files_url: str | None = None) -> KioskConfig:
    return KioskConfig(store=STORE, kiosk="kiosk-01", catalog=catalog, reader=reader, broker="mqtt://127.0.0.1:9",
                       data_dir=tmp_path / "kiosk", hq_public_key=hq_pem, files_url=files_url)


@pytest.fixture
def running(tmp_path: Path, catalog: Path, emulator: TagEmulator,
            hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Running]:
    kiosk = Running(kiosk_config(tmp_path, catalog, hq_key[1], emulator.path))
    yield kiosk
    kiosk.stop()


def test_a_sign_tapped_on_the_reader_shows_its_offer_and_records_the_tap(running: Running,
                                                                         emulator: TagEmulator) -> None:
    assert emulator.tap(encode_offer(SHOP, "WINTER-BOOTS"))
    shown = running.next_outcome()
    assert shown.kind is OutcomeKind.OFFER and shown.offer is not None and shown.offer.id == "WINTER-BOOTS"
    assert [p.sku for p in shown.products] == ["BOOT-CHELSEA-BLK", "BOOT-CHELSEA-TAN"]
    boot = running.runtime.catalog.product("BOOT-CHELSEA-BLK")
    assert boot is not None
    priced = running.runtime.offer_price(boot)
    assert priced is not None and str(priced.price) == "71.96"
    start, event = [decode_event(m.payload, topic=m.topic) for m in running.runtime.outbox.pending()]
    assert (start.kind, start.shopper) == (EventKind.VISIT_START, None)  # the sign's tap began the visit
    assert (event.kind, event.offer, event.shopper, event.event_id) == (
        EventKind.OFFER_TAP, "WINTER-BOOTS", None, shown.event_id)


def test_a_member_signed_in_on_the_reader_gets_the_members_price_and_saves_the_coupon(
        running: Running, emulator: TagEmulator, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    card = issue_token(hq_key[0], "shopper-0042", Role.SHOPPER, 600)
    assert emulator.tap(encode_card(card))
    assert running.next_outcome().kind is OutcomeKind.SIGNED_IN
    boot = running.runtime.catalog.product("BOOT-CHELSEA-TAN")
    assert boot is not None
    priced = running.runtime.offer_price(boot)  # 30 off (64.95) beats 20% off (75.96) for a member
    assert priced is not None and (priced.offer.id, str(priced.price)) == ("CLUB-BOOTS", "64.95")
    assert not running.runtime.save_coupon("CLUB-BOOTS")  # not before the shopper agreed
    running.runtime.consent(True)
    assert running.runtime.save_coupon("CLUB-BOOTS") and running.runtime.save_coupon("CLUB-BOOTS")
    assert not running.runtime.save_coupon("WINTER-BOOTS")  # for everyone: no coupon to save
    events = [decode_event(m.payload, topic=m.topic) for m in running.runtime.outbox.pending()]
    assert [(e.kind, e.offer, e.shopper, e.card) for e in events] == [
        (EventKind.VISIT_START, None, None, None), (EventKind.CONSENT, None, "shopper-0042", card),
        (EventKind.COUPON_SAVE, "CLUB-BOOTS", "shopper-0042", card)]
    assert running.runtime.kiosk.session.coupons == {"CLUB-BOOTS"}


def test_an_ended_offers_sign_and_another_shops_sign_through_the_reader(running: Running,
                                                                        emulator: TagEmulator) -> None:
    assert emulator.tap(encode_offer_mime("SUMMER"))
    ended = running.next_outcome()
    assert ended.kind is OutcomeKind.OFFER_UNAVAILABLE and ended.offer is not None and "ended on" in ended.reason
    assert emulator.tap(encode_offer("https://shop.example.net", "WINTER-BOOTS"), idm=bytes.fromhex("02FE0000000000AA"))
    foreign = running.next_outcome()
    assert foreign.kind is OutcomeKind.UNREADABLE and "shop.example.net" in foreign.reason
    assert running.runtime.kiosk.counters.foreign_signs == 1
    assert len(running.runtime.outbox) == 2  # the ended offer's tap only, and the visit's start before it


def test_staff_write_a_sign_on_the_kiosks_reader_and_it_reads_back(running: Running,
                                                                    emulator: TagEmulator) -> None:
    written = running.runtime.write_offer_tag("WINTER-BOOTS", timeout_s=5)
    assert emulator.tap(b"", hold_s=0.1, lift_s=0.0)  # a blank, formatted tag
    back = written.result(timeout=5).read_back
    assert (back.kind, back.offer, back.host, back.source) == (
        TagKind.OFFER, "WINTER-BOOTS", "shop.example.com", TagSource.URI_RECORD)
    assert emulator.ndef_message == encode_offer(SHOP, "WINTER-BOOTS")
    with pytest.raises(ValueError, match="not a valid offer id"):
        running.runtime.write_offer_tag("winter boots", timeout_s=5)


def test_a_manifest_signed_after_the_kiosks_clock_stops_offers_and_a_restart_remembers(
        tmp_path: Path, catalog: Path, emulator: TagEmulator, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    # HQ signed this an hour after the kiosk's clock: the kiosk's clock is far behind (its
    # battery went flat). It is refused before anything is downloaded; its time is kept.
    signed_at = datetime.now(UTC) + timedelta(hours=1)
    envelope = sign_manifest(hq_key[0], Manifest(
        kind=UpdateKind.CATALOG, version=1, created_at=signed_at, expires_at=signed_at + timedelta(days=7),
        files={"meta.json": FileEntry(sha256="0" * 64, size=1)}))
    config = kiosk_config(tmp_path, catalog, hq_key[1], emulator.path, files_url="http://127.0.0.1:9")
    kiosk = Running(config)
    try:
        assert kiosk.runtime.kiosk.clock_trusted()
        worker = kiosk.runtime.updates[UpdateKind.CATALOG]
        worker.start()
        worker.offer(envelope)
        assert eventually(lambda: kiosk.runtime.update_problem.startswith("not_yet_valid"), 10)
        assert eventually(lambda: kiosk.runtime.kiosk.signed_time == signed_at, 10)
        assert not kiosk.runtime.kiosk.clock_trusted()
        assert emulator.tap(encode_offer(SHOP, "WINTER-BOOTS"))
        shown = kiosk.next_outcome()
        assert (shown.kind, shown.offer, shown.offer_id) == (OutcomeKind.OFFER_UNAVAILABLE, None, "WINTER-BOOTS")
        assert "clock" in shown.reason
        worker.stop()
    finally:
        kiosk.stop()
    again = Running(config)  # the same kiosk restarted, its clock still behind
    try:
        assert again.runtime.kiosk.signed_time == signed_at and not again.runtime.kiosk.clock_trusted()
        assert emulator.tap(encode_offer(SHOP, "WINTER-BOOTS"))
        assert again.next_outcome().kind is OutcomeKind.OFFER_UNAVAILABLE
    finally:
        again.stop()


def test_an_applied_catalog_keeps_the_time_hq_signed_it(tmp_path: Path, catalog: Path,
                                                        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    publisher = CatalogPublisher(tmp_path / "bundles", hq_key[0])
    envelope = publisher.publish(catalog)
    port = free_port()
    server = FileServer(publisher.directory, port=port)
    server.start()
    config = kiosk_config(tmp_path, catalog, hq_key[1], "udp:127.0.0.1:9", files_url=f"http://127.0.0.1:{port}")
    runtime = KioskRuntime(config, on_outcome=lambda outcome: None)
    worker = runtime.updates[UpdateKind.CATALOG]
    try:
        worker.start()
        worker.offer(envelope)
        signed_at = unverified_manifest(envelope).created_at
        assert eventually(lambda: runtime.kiosk.signed_time == signed_at, 20)
        assert runtime.catalog_updater.current_version == 1 and runtime.kiosk.clock_trusted()
    finally:
        worker.stop()
        runtime.outbox.close()
        runtime.profiles.close()
        server.stop()
    assert SignedTime(config.data_dir / "signed-time.json").newest == signed_at
