"""The real nfcpy reader against emulated Type 3 tags over nfcpy's udp driver: every tag
kind, one read per tap, flaky and half-read tags, and a reader that goes away."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import ndef
import pytest

from kiosk_app.demo import free_port
from nfc_reader import (
    EmulatorError,
    ReaderProblem,
    ReaderState,
    TagEmulator,
    TagKind,
    TagRead,
    TagReader,
    TagSource,
    TapPolicy,
    UidTable,
    encode_badge,
    encode_card,
    encode_product,
    encode_product_mime,
    encode_product_smart_poster,
    encode_product_text,
)
from testkit.tags import Reader
from testkit.waiting import eventually

SHOP = "https://shop.example.com"
NO_NDEF_UID = bytes.fromhex("0102030405060708")


@pytest.fixture
def reader(emulator: TagEmulator) -> Iterator[Reader]:
    """A reader polling the emulator's port."""
    started = Reader(emulator.path, retry_s=0.2)
    yield started
    started.stop()


def test_each_tap_is_read_once(emulator: TagEmulator, reader: Reader) -> None:
    assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.6)  # held: still one read
    assert eventually(lambda: reader.reader.counters.lifted == 1)  # a busy reader may see the lift late
    # Lifted (for longer than the same-tap holdoff) and tapped again: a second read.
    assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.1, lift_s=0.0)
    assert emulator.tap(encode_card("abc.def"), hold_s=0.1, lift_s=0.0)
    got = [reader.next_read() for _ in range(3)]
    assert [(r.kind, r.sku or r.token) for r in got] == [
        (TagKind.PRODUCT, "BOOT-1"), (TagKind.PRODUCT, "BOOT-1"), (TagKind.SHOPPER_CARD, "abc.def")]
    assert got[0].uid == got[1].uid != got[2].uid  # the UID comes from the tag
    assert reader.no_more_reads()
    assert reader.next_status().state is ReaderState.ONLINE
    assert reader.reader.counters.taps == 3
    assert eventually(lambda: reader.reader.counters.lifted == 3)  # the first one gone as another answered


def test_every_tag_kind_is_read_through_nfcpy(emulator: TagEmulator, tmp_path: Path) -> None:
    table = UidTable(tmp_path / "tags.json")
    table.assign(NO_NDEF_UID.hex(), "SCARF-7")
    reader = Reader(emulator.path, uid_table=table)
    # (message or None for a tag without NDEF, its UID, expected kind, sku or token, source)
    taps = [
        (encode_product_smart_poster(SHOP, "BOOT-2", "Chelsea"), None, TagKind.PRODUCT, "BOOT-2",
         TagSource.SMART_POSTER),
        (encode_product_text("BOOT-3"), None, TagKind.PRODUCT, "BOOT-3", TagSource.TEXT_RECORD),
        (encode_product_mime("BOOT-4"), None, TagKind.PRODUCT, "BOOT-4", TagSource.PRODUCT_MIME),
        (encode_badge("staff.sig"), None, TagKind.STAFF_BADGE, "staff.sig", TagSource.BADGE_MIME),
        (None, NO_NDEF_UID, TagKind.PRODUCT, "SCARF-7", TagSource.UID_TABLE),
        (None, bytes.fromhex("0102030405060799"), TagKind.UNREADABLE, None, None),
    ]
    try:
        for message, uid, kind, value, source in taps:
            assert emulator.tap(message, idm=uid, hold_s=0.1, lift_s=0.0)  # a different tag each time
            read = reader.next_read()
            assert (read.kind, read.sku or read.token, read.source) == (kind, value, source)
        assert read.uid == "0102030405060799" and "not in the tag table" in (read.reason or "")
    finally:
        reader.stop()


def test_malformed_tag_becomes_an_unreadable_read(emulator: TagEmulator, reader: Reader) -> None:
    assert emulator.tap(b"".join(ndef.message_encoder([ndef.TextRecord("hola")])), hold_s=0.1, lift_s=0.0)
    read = reader.next_read()
    assert read.kind is TagKind.UNREADABLE and "no product" in (read.reason or "")
    assert reader.reader.counters.unreadable == 1


def test_a_flaky_read_is_retried_not_doubled(emulator: TagEmulator, reader: Reader) -> None:
    emulator.flaky_reads = 2  # the first two block reads fail, as at the edge of the field
    assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.3, lift_s=0.0)
    assert (reader.next_read().sku, emulator.flaky_reads) == ("BOOT-1", 0)
    assert emulator.tap(encode_card("abc.def"), hold_s=0.1, lift_s=0.0)  # the next tap proves nothing else was pending
    assert reader.next_read().kind is TagKind.SHOPPER_CARD
    assert reader.no_more_reads()
    assert reader.reader.counters.retried_reads == 2


def test_a_tag_that_misses_presence_checks_while_held_is_not_read_twice(emulator: TagEmulator,
                                                                        reader: Reader) -> None:
    # Two presence checks of three polls each go unanswered: the reader takes the tag for
    # lifted, polls again, finds it still there and knows it is the same tap.
    emulator.missed_polls = 6
    assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.4, lift_s=0.0)
    assert emulator.missed_polls == 0
    assert emulator.tap(encode_card("abc.def"), hold_s=0.1, lift_s=0.0)
    assert [r.kind for r in (reader.next_read(), reader.next_read())] == [TagKind.PRODUCT, TagKind.SHOPPER_CARD]
    assert reader.no_more_reads()
    assert reader.reader.counters.repeats_suppressed == 1


def test_a_tag_pulled_away_halfway_counts_once_when_tapped_again(emulator: TagEmulator, reader: Reader) -> None:
    message = encode_product_text("B")  # one data block: a read from a pulled tag times out in ~1 s
    # Gone while its data block is read, and away until the reader has given it up.
    assert not emulator.tap(message, leave_after_reads=2, lift_s=0.0)
    assert eventually(lambda: reader.reader.counters.incomplete == 1, 10)
    assert emulator.tap(message, hold_s=0.1, lift_s=0.0)
    assert reader.next_read().sku == "B"
    assert reader.no_more_reads()
    assert reader.reader.counters.incomplete == 1


def test_a_tag_back_before_the_reader_gave_up_is_read_once(emulator: TagEmulator, reader: Reader) -> None:
    message = encode_product_text("B")
    assert not emulator.tap(message, leave_after_reads=2, lift_s=0.1)  # a wobble at the edge of the field
    assert emulator.tap(message, hold_s=0.1, lift_s=0.0)  # the reader's retry finds it back, reads it
    assert reader.next_read().sku == "B"
    assert emulator.tap(encode_product_text("C"), hold_s=0.1, lift_s=0.0)
    assert reader.next_read().sku == "C"
    assert reader.no_more_reads()
    assert (reader.reader.counters.incomplete, reader.reader.counters.taps) == (0, 2)


def test_a_held_tag_counts_again_when_the_policy_says_so(emulator: TagEmulator) -> None:
    reader = Reader(emulator.path, policy=TapPolicy(held_repeat_s=0.3))
    try:
        assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.5, lift_s=0.0)
        first, second = reader.next_read(), reader.next_read()
        assert first == second and first.sku == "BOOT-1"
    finally:
        reader.stop()


def test_a_failing_tap_handler_does_not_stop_the_reader(emulator: TagEmulator) -> None:
    reads: list[TagRead] = []

    def handler(read: TagRead) -> None:
        reads.append(read)
        if len(reads) == 1:
            raise RuntimeError("bug in the app")

    reader = TagReader(emulator.path, handler)
    reader.start()
    try:
        assert emulator.tap(encode_product_text("A"), hold_s=0.1, lift_s=0.0)
        assert emulator.tap(encode_product_text("B"), hold_s=0.1, lift_s=0.0)
        # The tap ends on the tag's side; the reader's thread may hand it over a moment later.
        assert eventually(lambda: len(reads) == 2, 10)
        assert [r.sku for r in reads] == ["A", "B"]
        assert reader.counters.callback_errors == 1
    finally:
        reader.stop(timeout_s=0)


def test_several_emulators_side_by_side() -> None:
    emulators = [TagEmulator(free_port(socket.SOCK_DGRAM)) for _ in range(3)]
    readers = [Reader(e.path) for e in emulators]
    try:
        with pytest.raises(EmulatorError, match="in use"):
            TagEmulator(emulators[0].port)  # one tag per port
        taps = [e.start_tap(encode_product_text(f"SKU-{n}"), hold_s=0.1, lift_s=0.0)
                for n, e in enumerate(emulators)]
        assert all(tap.result(timeout=10) for tap in taps)
        assert [r.next_read().sku for r in readers] == ["SKU-0", "SKU-1", "SKU-2"]
        assert all(r.no_more_reads() for r in readers)
    finally:
        for started in readers:
            started.stop()
        for emulator in emulators:
            emulator.close()


def test_a_missing_reader_reports_offline_and_retries_with_backoff() -> None:
    reader = Reader("tty:kiosk-no-such-port:pn532", retry_s=0.05, max_retry_s=0.2)
    try:
        statuses = [reader.next_status() for _ in range(4)]
        assert {s.state for s in statuses} == {ReaderState.OFFLINE}
        assert {s.problem for s in statuses} == {ReaderProblem.NOT_FOUND}
        assert "no reader found" in statuses[0].reason and "serial port" in statuses[0].hint
        assert [s.retry_in_s for s in statuses] == [0.05, 0.1, 0.2, 0.2]
    finally:
        reader.stop()


def test_auto_detect_without_hardware_says_what_it_tried() -> None:
    reader = Reader(None, retry_s=5.0)
    try:
        status = reader.next_status()
        assert (status.state, status.path, status.problem) == (ReaderState.OFFLINE, "auto", ReaderProblem.NOT_FOUND)
        assert "tried usb" in status.reason and "ACR122U" in status.hint
    finally:
        reader.stop()


def test_an_unplugged_reader_goes_offline_and_comes_back(emulator: TagEmulator) -> None:
    reader = Reader(emulator.path, retry_s=0.1)
    try:
        assert reader.next_status().state is ReaderState.ONLINE
        # What nfcpy does when a USB reader vanishes: the frontend loses its device and the
        # next command fails with ENODEV.
        frontend = reader.reader._clf
        assert frontend is not None
        frontend.close()
        offline = reader.next_status()
        assert (offline.state, offline.problem) == (ReaderState.OFFLINE, ReaderProblem.UNPLUGGED)
        assert "unplugged" in offline.reason and offline.retry_in_s == 0.1
        assert reader.next_status().state is ReaderState.ONLINE
        assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.1, lift_s=0.0)
        assert reader.next_read().sku == "BOOT-1"
        assert reader.reader.counters.reader_failures == 1
    finally:
        reader.stop()


def test_nobody_reading_means_the_tap_is_not_confirmed() -> None:
    lonely = TagEmulator(free_port(socket.SOCK_DGRAM))
    try:
        assert lonely.tap(encode_product(SHOP, "BOOT-1"), timeout_s=0.3, lift_s=0.0) is False
        assert lonely.last_tap is not None and lonely.last_tap.activated_at is None
    finally:
        lonely.close()
