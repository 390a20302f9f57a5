"""Staff write a product tag on the kiosk's own reader: ``TagReader.write_next`` against the
real nfcpy udp driver and the emulated Type 3 tag. The written tag is no tap, refused tags
stay untouched, and the reader goes back to taps afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nfc_reader import (
    NoTagPresented,
    ReaderProblem,
    ReaderState,
    ReaderUnavailable,
    TagEmulator,
    TagKind,
    TagRead,
    TagReader,
    TagSource,
    TagWriteError,
    WriteAlreadyPending,
    WriteRefusal,
    encode_product_text,
)
from testkit.tags import Reader
from testkit.waiting import eventually
from tests.integration.tag_writes import OLD, PRODUCT, REFUSALS

NEXT = encode_product_text("NEXT-1")  # small enough for every tag here
NO_NDEF_UID = bytes.fromhex("0102030405060708")


@pytest.fixture
def reader(emulator: TagEmulator) -> Iterator[Reader]:
    """A reader online on the emulator's port."""
    started = Reader(emulator.path, retry_s=0.2)
    assert started.next_status().state is ReaderState.ONLINE
    yield started
    started.stop()


def _uid(emulator: TagEmulator) -> str:
    return emulator.idm.hex().upper()


def _next_tap_is_read(emulator: TagEmulator, reader: Reader) -> None:
    """Taps are read as usual: another tag tapped now reaches on_read, and nothing else did."""
    assert emulator.tap(NEXT, hold_s=0.1, lift_s=0.0)
    assert reader.next_read().sku == "NEXT-1"
    assert reader.no_more_reads()


def test_write_next_writes_the_next_tag_and_reads_it_back(emulator: TagEmulator, reader: Reader) -> None:
    future = reader.reader.write_next(PRODUCT, timeout_s=5)
    assert emulator.tap(b"", hold_s=0.1, lift_s=0.0)  # a blank, formatted tag
    result = future.result(timeout=5)
    assert result.read_back == TagRead(TagKind.PRODUCT, _uid(emulator), sku="BOOT-CHELSEA-BLK",
                                       source=TagSource.URI_RECORD)
    assert (result.uid, result.bytes_written, result.capacity) == (_uid(emulator), len(PRODUCT), 1024)
    assert emulator.ndef_message == PRODUCT  # the tag's memory changed, as a real tag's would
    assert reader.reader.counters.writes == 1


def test_the_written_tag_is_no_tap_and_the_next_tap_is_read(emulator: TagEmulator, reader: Reader) -> None:
    future = reader.reader.write_next(PRODUCT, timeout_s=5)
    # Held on after the write, then lifted for longer than the same-tap holdoff.
    assert emulator.tap(OLD, hold_s=0.4)
    result = future.result(timeout=5)
    assert reader.no_more_reads() and reader.reader.counters.taps == 0  # on_read never heard of it
    # Back only once the reader saw it leave: a busy reader that missed the lift holds it still.
    assert eventually(lambda: reader.reader.counters.lifted == 1)
    assert emulator.present(hold_s=0.1, lift_s=0.0)  # the same tag, tapped again
    assert reader.next_read() == result.read_back  # what staff saw is what a tap gives
    _next_tap_is_read(emulator, reader)
    assert reader.reader.counters.taps == 2


# The same refusals the CLI's writer gives (tests/integration/test_nfc_writer.py).
@pytest.mark.parametrize(("what", "settings", "message", "refusal", "text"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_tags_that_cannot_take_the_record_are_refused_untouched(
    emulator: TagEmulator, reader: Reader, what: str, settings: dict[str, object], message: bytes | None,
    refusal: WriteRefusal, text: str,
) -> None:
    for name, value in settings.items():
        setattr(emulator, name, value)
    future = reader.reader.write_next(PRODUCT, timeout_s=5)
    assert emulator.tap(message, idm=NO_NDEF_UID if message is None else None, hold_s=0.3, lift_s=0.0)
    refused = future.exception(timeout=5)
    assert isinstance(refused, TagWriteError) and text in str(refused)
    assert refused.refusal is refusal
    assert emulator.ndef_message == message  # nothing was written
    assert reader.reader.counters.writes == 0
    _next_tap_is_read(emulator, reader)  # the refused tag, held, was no tap either


def test_a_tag_pulled_away_during_the_write_is_reported_lost(emulator: TagEmulator, reader: Reader) -> None:
    future = reader.reader.write_next(PRODUCT, timeout_s=5)
    assert not emulator.tap(OLD, leave_after_writes=2, lift_s=0.0)  # gone as the first data block is written
    lost = future.exception(timeout=5)
    assert isinstance(lost, TagWriteError) and lost.refusal is WriteRefusal.LOST
    _next_tap_is_read(emulator, reader)


def test_no_tag_within_the_timeout_and_taps_are_read_again(emulator: TagEmulator, reader: Reader) -> None:
    future = reader.reader.write_next(PRODUCT, timeout_s=0.1)
    with pytest.raises(NoTagPresented, match=r"within 0\.1 s"):
        future.result(timeout=5)
    _next_tap_is_read(emulator, reader)
    assert emulator.ndef_message == NEXT


@pytest.mark.parametrize("how", ["cancel_write", "future.cancel"])
def test_a_cancelled_write_gives_the_reader_back_to_taps(emulator: TagEmulator, reader: Reader, how: str) -> None:
    future = reader.reader.write_next(PRODUCT, timeout_s=5)
    assert (reader.reader.cancel_write() if how == "cancel_write" else future.cancel())
    assert future.cancelled()
    assert reader.reader.cancel_write() is False  # nothing is waiting any more
    _next_tap_is_read(emulator, reader)
    assert emulator.ndef_message == NEXT


def test_a_second_write_while_one_waits_is_refused(emulator: TagEmulator, reader: Reader) -> None:
    first = reader.reader.write_next(PRODUCT, timeout_s=5)
    with pytest.raises(WriteAlreadyPending, match="cancel it first"):
        reader.reader.write_next(encode_product_text("OTHER-1"), timeout_s=5)
    assert not first.done()  # the first write still waits for its tag
    assert first.cancel()
    second = reader.reader.write_next(encode_product_text("OTHER-1"), timeout_s=5)
    assert emulator.tap(b"", hold_s=0.1, lift_s=0.0)
    assert second.result(timeout=5).read_back.sku == "OTHER-1"
    # Once it is done, the next write is welcome.
    third = reader.reader.write_next(PRODUCT, timeout_s=5)
    assert emulator.tap(b"", idm=NO_NDEF_UID, hold_s=0.1, lift_s=0.0)
    assert third.result(timeout=5).read_back.sku == "BOOT-CHELSEA-BLK"
    assert reader.no_more_reads()


def test_an_offline_reader_fails_the_write_at_once() -> None:
    reader = Reader("tty:kiosk-no-such-port:pn532", retry_s=5.0)
    try:
        assert reader.next_status().state is ReaderState.OFFLINE
        future = reader.reader.write_next(PRODUCT, timeout_s=30)
        assert future.done()  # staff learn now, not after holding a tag for 30 s
        offline = future.exception()
        assert isinstance(offline, ReaderUnavailable) and offline.problem is ReaderProblem.NOT_FOUND
        assert "offline" in str(offline) and "serial port" in offline.hint
    finally:
        reader.stop()


def test_a_reader_failing_while_the_write_waits_fails_it(emulator: TagEmulator) -> None:
    reader = Reader(emulator.path, retry_s=0.1)
    try:
        assert reader.next_status().state is ReaderState.ONLINE
        future = reader.reader.write_next(PRODUCT, timeout_s=30)
        frontend = reader.reader._clf
        assert frontend is not None
        frontend.close()  # what nfcpy does when a USB reader is unplugged
        unplugged = future.exception(timeout=5)
        assert isinstance(unplugged, ReaderUnavailable) and unplugged.problem is ReaderProblem.UNPLUGGED
        assert reader.next_status().state is ReaderState.OFFLINE
        assert reader.next_status().state is ReaderState.ONLINE
        _next_tap_is_read(emulator, reader)  # back online, reading taps, nothing written
        assert emulator.ndef_message == NEXT
    finally:
        reader.stop()


def test_stopping_the_reader_cancels_a_waiting_write(emulator: TagEmulator, reader: Reader) -> None:
    future = reader.reader.write_next(PRODUCT, timeout_s=30)
    reader.stop()
    assert future.cancelled()
    stopped = reader.reader.write_next(PRODUCT).exception(timeout=0)
    assert isinstance(stopped, ReaderUnavailable) and "stopped" in str(stopped)


def test_write_next_wants_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="positive"):
        TagReader("udp:127.0.0.1:9", lambda read: None).write_next(PRODUCT, timeout_s=0)
