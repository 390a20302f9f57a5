"""Staff tag tools against the emulated Type 3 tag over nfcpy's udp driver: writing a
product tag (and refusing tags that cannot take it), reading what a tag holds, and the
``kiosk nfc read|write|uid|emulate`` commands."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk_app.cli import main
from kiosk_app.demo import free_port
from nfc_reader import (
    NoTagPresented,
    ReaderProblem,
    ReaderUnavailable,
    TagEmulator,
    TagKind,
    TagRead,
    TagSource,
    TagWriteError,
    UidTable,
    WriteRefusal,
    decode_tag,
    encode_product,
    encode_product_text,
    inspect_tag,
    write_tag,
)
from tests.integration.tag_writes import OLD, PRODUCT, REFUSALS, SHOP

NO_NDEF_UID = bytes.fromhex("0102030405060708")


def _uid(emulator: TagEmulator) -> str:
    return emulator.idm.hex().upper()


def test_write_a_blank_tag_reads_back_and_the_tag_keeps_it(emulator: TagEmulator) -> None:
    tap = emulator.start_tap(b"", hold_s=0.2, lift_s=0.0)  # a blank, formatted tag
    result = write_tag(emulator.path, PRODUCT, timeout_s=5)
    assert tap.result(timeout=5)
    assert result.read_back == TagRead(TagKind.PRODUCT, _uid(emulator), sku="BOOT-CHELSEA-BLK",
                                       source=TagSource.URI_RECORD)
    assert (result.bytes_written, result.capacity) == (len(PRODUCT), 1024)
    assert emulator.ndef_message == PRODUCT  # the tag's memory changed, as a real tag's would
    # ... and a reader tapping the tag later reads the new content.
    again = emulator.start_present(hold_s=0.1, lift_s=0.0)
    report = inspect_tag(emulator.path, timeout_s=5)
    assert again.result(timeout=5)
    assert (report.read.sku, report.ndef_length, report.writeable) == ("BOOT-CHELSEA-BLK", len(PRODUCT), True)
    assert report.records == ("URI: https://shop.example.com/p/BOOT-CHELSEA-BLK",)


def test_write_replaces_what_a_tag_held(emulator: TagEmulator) -> None:
    emulator.capacity = 64
    tap = emulator.start_tap(encode_product(SHOP, "A-VERY-LONG-OLD-PRODUCT-CODE-123"), hold_s=0.2, lift_s=0.0)
    result = write_tag(emulator.path, encode_product_text("B-2"), timeout_s=5)
    assert tap.result(timeout=5)
    assert result.read_back.sku == "B-2"
    assert decode_tag("", emulator.ndef_message or b"").sku == "B-2"  # no leftovers of the longer record


@pytest.mark.parametrize(("what", "settings", "message", "refusal", "text"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_tags_that_cannot_take_the_record_are_refused_untouched(
    emulator: TagEmulator, what: str, settings: dict[str, object], message: bytes | None, refusal: WriteRefusal,
    text: str,
) -> None:
    for name, value in settings.items():
        setattr(emulator, name, value)
    tap = emulator.start_tap(message, idm=NO_NDEF_UID if message is None else None, hold_s=0.1, lift_s=0.0)
    with pytest.raises(TagWriteError, match=text) as refused:
        write_tag(emulator.path, PRODUCT, timeout_s=5)
    assert tap.result(timeout=5)
    assert refused.value.refusal is refusal
    assert emulator.ndef_message == message  # nothing was written


# (what, where the tag leaves, message fragment); OLD takes three block reads to read.
PULLED_AWAY = [
    ("as the writer checks the tag again", {"leave_after_reads": 4}, "during the write"),
    ("as the first data block is written", {"leave_after_writes": 2}, "during the write"),
    ("as the writer reads the tag back", {"leave_after_reads": 5}, "before it could be read back"),
]


@pytest.mark.parametrize(("what", "leave", "text"), PULLED_AWAY, ids=[p[0] for p in PULLED_AWAY])
def test_a_tag_pulled_away_while_writing_is_reported_lost(emulator: TagEmulator, what: str,
                                                          leave: dict[str, int], text: str) -> None:
    tap = emulator.start_tap(OLD, lift_s=0.0, **leave)
    with pytest.raises(TagWriteError, match=text) as lost:
        write_tag(emulator.path, PRODUCT, timeout_s=5)
    assert tap.result(timeout=5) is False
    assert lost.value.refusal is WriteRefusal.LOST


def test_no_tag_within_the_timeout(emulator: TagEmulator) -> None:
    with pytest.raises(NoTagPresented, match=r"within 0\.1 s"):
        write_tag(emulator.path, PRODUCT, timeout_s=0.1)


def test_no_reader_at_a_usb_path_is_a_clear_error() -> None:
    with pytest.raises(ReaderUnavailable) as missing:
        write_tag("usb:072f:2200", PRODUCT, timeout_s=0.1)
    assert missing.value.problem is ReaderProblem.NOT_FOUND
    assert "lsusb" in missing.value.hint


def test_inspect_a_tag_without_ndef_known_by_uid(emulator: TagEmulator, tmp_path: Path) -> None:
    table = UidTable(tmp_path / "tags.json")
    table.assign(NO_NDEF_UID.hex(), "SCARF-7")
    tap = emulator.start_tap(None, idm=NO_NDEF_UID, hold_s=0.1, lift_s=0.0)
    report = inspect_tag(emulator.path, timeout_s=5, uid_table=table)
    assert tap.result(timeout=5)
    assert (report.uid, report.ndef_length, report.records) == ("0102030405060708", None, ())
    assert (report.read.sku, report.read.source) == ("SCARF-7", TagSource.UID_TABLE)


# --- The commands staff type. ---------------------------------------------------------------

def _kiosk(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_kiosk_nfc_write_and_read(emulator: TagEmulator) -> None:
    tap = emulator.start_tap(b"", hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "write", "--sku", "BOOT-1", "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 0, output
    assert f"wrote BOOT-1 to tag {_uid(emulator)}" in output and "read back: product BOOT-1" in output
    tap = emulator.start_present(hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "read", "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 0, output
    assert "record 1: URI: https://shop.example.com/p/BOOT-1" in output
    assert "means:  product BOOT-1 (from the uri record)" in output


def test_kiosk_nfc_write_refuses_a_read_only_tag(emulator: TagEmulator) -> None:
    emulator.read_only = True
    tap = emulator.start_tap(OLD, hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "write", "--sku", "BOOT-1", "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 1 and "not written: tag" in output and "is read-only" in output
    assert emulator.ndef_message == OLD


@pytest.mark.parametrize(("args", "fragment"), [
    (["nfc", "write", "--sku", "lower-case", "--device", "usb"], "not a valid SKU"),
    (["nfc", "write", "--sku", "BOOT-1", "--device", "usb:072f:2200", "--timeout", "0"], "no reader found"),
    (["nfc", "read", "--device", "tty:kiosk-no-such-port:pn532", "--timeout", "0"], "hint: check the serial port"),
    (["nfc", "emulate", "--uid", "01FE030405060708"], "01FE"),
    (["nfc", "emulate"], "exactly one of"),
])
def test_kiosk_nfc_commands_explain_what_is_wrong(args: list[str], fragment: str) -> None:
    code, output = _kiosk(*args)
    assert code in (1, 2) and fragment in output


def test_kiosk_nfc_uid_maintains_the_table(tmp_path: Path) -> None:
    table = str(tmp_path / "tags.json")
    assert _kiosk("nfc", "uid", "add", "04:a1:b2:c3", "BOOT-1", "--table", table) == (0, "04A1B2C3 -> BOOT-1\n")
    assert _kiosk("nfc", "uid", "add", "0102030405060708", "BAG-2", "--table", table)[0] == 0
    assert _kiosk("nfc", "uid", "list", "--table", table) == (0, "0102030405060708 BAG-2\n04A1B2C3 BOOT-1\n")
    assert _kiosk("nfc", "uid", "remove", "04A1B2C3", "--table", table) == (0, "removed 04A1B2C3\n")
    code, output = _kiosk("nfc", "uid", "remove", "04A1B2C3", "--table", table)
    assert code == 1 and "not in" in output
    code, output = _kiosk("nfc", "uid", "add", "xyz", "BOOT-1", "--table", table)
    assert code == 2 and "not a tag UID" in output
    assert UidTable(table).entries() == {"0102030405060708": "BAG-2"}


def test_kiosk_nfc_emulate_serves_a_blank_tag_that_kiosk_nfc_write_fills() -> None:
    """Both commands as people run them, in two processes."""
    device = f"udp:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    kiosk = [sys.executable, "-m", "kiosk_app", "nfc"]
    emulate = subprocess.Popen([*kiosk, "emulate", "--blank", "--device", device, "--timeout", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        written = subprocess.run([*kiosk, "write", "--sku", "BOOT-9", "--device", device, "--timeout", "20"],
                                 capture_output=True, text=True, timeout=30)
        output, errors = emulate.communicate(timeout=30)
    finally:
        emulate.kill()
    assert written.returncode == 0, written.stderr
    assert "read back: product BOOT-9" in written.stdout
    assert emulate.returncode == 0, errors
    assert "it now holds:\n  URI: https://shop.example.com/p/BOOT-9" in output
