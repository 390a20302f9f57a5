"""Tag content -> TagRead: what store tags carry, and that nothing else breaks it."""

from __future__ import annotations

import ndef
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nfc_reader import TagKind, decode_tag, encode_card, encode_product

UID = "02FE000000000001"
SHOP = "https://shop.example.com"


def _message(*records: ndef.Record) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


# (what, message bytes, expected kind, expected sku or token, expected reason fragment)
CASES = [
    ("product uri", encode_product(SHOP, "BOOT-1"), TagKind.PRODUCT, "BOOT-1", None),
    ("product uri, trailing slash", _message(ndef.UriRecord(f"{SHOP}/p/BOOT-1/")), TagKind.PRODUCT, "BOOT-1", None),
    ("card", encode_card("abc.def"), TagKind.SHOPPER_CARD, "abc.def", None),
    ("uri not a product", _message(ndef.UriRecord(f"{SHOP}/about")), TagKind.UNREADABLE, None, "not a product"),
    ("lower-case sku", _message(ndef.UriRecord(f"{SHOP}/p/boot-1")), TagKind.UNREADABLE, None, "not a valid SKU"),
    ("ftp scheme", _message(ndef.UriRecord("ftp://x/p/BOOT-1")), TagKind.UNREADABLE, None, "not a product"),
    ("text only", _message(ndef.TextRecord("hello")), TagKind.UNREADABLE, None, "no product, card or badge"),
    ("empty message", b"", TagKind.UNREADABLE, None, "empty NDEF"),
    ("truncated", encode_product(SHOP, "BOOT-1")[:-4], TagKind.UNREADABLE, None, "malformed NDEF"),
    ("garbage", b"\xff\x00\x13", TagKind.UNREADABLE, None, "malformed NDEF"),
]


@pytest.mark.parametrize(("what", "message", "kind", "value", "reason"), CASES, ids=[c[0] for c in CASES])
def test_decode_tag(what: str, message: bytes, kind: TagKind, value: str | None, reason: str | None) -> None:
    read = decode_tag(UID, message)
    assert read.kind is kind
    assert read.uid == UID
    assert (read.sku or read.token) == value
    if reason is not None:
        assert read.reason is not None and reason in read.reason


def test_product_tag_is_a_web_shop_address() -> None:
    records = list(ndef.message_decoder(encode_product(SHOP + "/", "BOOT-1")))
    assert records[0].iri == "https://shop.example.com/p/BOOT-1"


@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    read = decode_tag(UID, data)
    assert read.kind in TagKind
    if read.kind is TagKind.UNREADABLE:
        assert read.reason


@given(st.lists(st.sampled_from([
    ndef.TextRecord("x"), ndef.UriRecord("https://a/p/B"), ndef.UriRecord("https://a/x"),
    ndef.Record("application/vnd.nfckiosk.card", "", b"\xff\xfe"), ndef.Record("image/png", "", b"\x89PNG"),
]), max_size=4))
def test_arbitrary_record_combinations_never_raise(records: list[ndef.Record]) -> None:
    assert decode_tag(UID, _message(*records)).kind in TagKind
