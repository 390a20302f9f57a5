"""``kiosk nfc write --offer`` and ``kiosk nfc emulate --offer`` against the emulated Type 3
tag and a reader over nfcpy's udp driver, as staff and the demo run them."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from kiosk_app.cli import main
from kiosk_app.demo import free_port
from nfc_reader import TagEmulator, TagKind, TagRead, TagReader, TagSource, decode_tag, encode_product

KIOSK = [sys.executable, "-m", "kiosk_app"]


def _kiosk(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_kiosk_nfc_write_an_offer_sign_and_read_it(emulator: TagEmulator) -> None:
    tap = emulator.start_tap(b"", hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "write", "--offer", "WINTER-BOOTS", "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 0, output
    uid = emulator.idm.hex().upper()
    assert f"wrote the sign of WINTER-BOOTS to tag {uid}" in output
    assert "read back: sign of offer WINTER-BOOTS of shop.example.com (from the uri record)" in output
    assert emulator.ndef_message is not None
    assert decode_tag(uid, emulator.ndef_message).offer == "WINTER-BOOTS"
    tap = emulator.start_present(hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "read", "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 0, output
    assert "record 1: URI: https://shop.example.com/o/WINTER-BOOTS" in output


@pytest.mark.parametrize(("form", "source"), [("mime", TagSource.OFFER_MIME), ("smart-poster", TagSource.SMART_POSTER),
                                              ("text", TagSource.TEXT_RECORD)])
def test_kiosk_nfc_write_an_offer_sign_in_each_form(emulator: TagEmulator, form: str, source: TagSource) -> None:
    tap = emulator.start_tap(encode_product("https://shop.example.com", "OLD-1"), hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "write", "--offer", "X-1", "--form", form, "--shop-url", "https://tienda.example",
                          "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 0, output
    assert emulator.ndef_message is not None
    read = decode_tag("01", emulator.ndef_message)
    assert (read.kind, read.offer, read.source) == (TagKind.OFFER, "X-1", source)
    assert read.host == (None if form == "mime" else "tienda.example")


@pytest.mark.parametrize(("args", "fragment"), [
    (["nfc", "write", "--offer", "winter-boots", "--device", "usb"], "not a valid offer id"),
    (["nfc", "write", "--offer", "A", "--sku", "B", "--device", "usb"], "exactly one of --sku, --offer"),
    (["nfc", "write", "--device", "usb"], "exactly one of --sku, --offer"),
    (["nfc", "emulate", "--offer", "A", "--sku", "B"], "exactly one of"),
    (["nfc", "emulate", "--offer", "a/b"], "not a valid offer id"),
])
def test_kiosk_nfc_offer_commands_explain_what_is_wrong(args: list[str], fragment: str) -> None:
    code, output = _kiosk(*args)
    assert code == 2 and fragment in output


def test_emulate_an_offer_sign_is_read_by_a_reader() -> None:
    device = f"udp:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    reads: queue.Queue[TagRead] = queue.Queue()
    reader = TagReader(device, reads.put)
    reader.start()
    try:
        result = subprocess.run([*KIOSK, "nfc", "emulate", "--offer", "WINTER-BOOTS", "--device", device],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        read = reads.get(timeout=5)
        assert (read.kind, read.offer, read.host) == (TagKind.OFFER, "WINTER-BOOTS", "shop.example.com")
    finally:
        reader.stop()
