"""Tag content -> TagRead: what store tags carry, and that nothing else breaks it."""

from __future__ import annotations

import contextlib
import json

import ndef
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nfc_reader import (
    BADGE_MIME,
    CARD_MIME,
    PRODUCT_MIME,
    TagDecodeError,
    TagKind,
    TagRead,
    TagSource,
    decode_tag,
    encode_badge,
    encode_card,
    encode_product,
    encode_product_mime,
    encode_product_smart_poster,
    encode_product_text,
    product_uri,
    validate_sku,
)
from nfc_reader._ndef import SKU_PATTERN, decode_records, parse_message

UID = "02FE000000000001"
SHOP = "https://shop.example.com"
SKU_STRATEGY = st.from_regex(SKU_PATTERN, fullmatch=True)


def _message(*records: ndef.Record) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


def _mime(mime_type: str, payload: bytes) -> ndef.Record:
    return ndef.Record(mime_type, "", payload)


# (what, message bytes, expected kind, expected sku or token, expected source, expected reason fragment)
CASES = [
    ("product uri", encode_product(SHOP, "BOOT-1"), TagKind.PRODUCT, "BOOT-1", TagSource.URI_RECORD, None),
    ("product uri, trailing slash", _message(ndef.UriRecord(f"{SHOP}/p/BOOT-1/")), TagKind.PRODUCT, "BOOT-1",
     TagSource.URI_RECORD, None),
    ("product uri, http", _message(ndef.UriRecord("http://shop/p/BOOT-1")), TagKind.PRODUCT, "BOOT-1",
     TagSource.URI_RECORD, None),
    ("smart poster", encode_product_smart_poster(SHOP, "BOOT-2", "Chelsea boot"), TagKind.PRODUCT, "BOOT-2",
     TagSource.SMART_POSTER, None),
    ("smart poster, no title", encode_product_smart_poster(SHOP, "BOOT-2"), TagKind.PRODUCT, "BOOT-2",
     TagSource.SMART_POSTER, None),
    ("text sku", encode_product_text("BOOT-3"), TagKind.PRODUCT, "BOOT-3", TagSource.TEXT_RECORD, None),
    ("text sku, spaces around", _message(ndef.TextRecord("  BOOT-3\n", "es")), TagKind.PRODUCT, "BOOT-3",
     TagSource.TEXT_RECORD, None),
    ("text address", _message(ndef.TextRecord(f"{SHOP}/p/BOOT-3")), TagKind.PRODUCT, "BOOT-3",
     TagSource.TEXT_RECORD, None),
    ("product mime", encode_product_mime("BOOT-4"), TagKind.PRODUCT, "BOOT-4", TagSource.PRODUCT_MIME, None),
    ("product mime, extra fields", _message(_mime(PRODUCT_MIME, b'{"v":1,"sku":"BOOT-4","name":"x"}')),
     TagKind.PRODUCT, "BOOT-4", TagSource.PRODUCT_MIME, None),
    ("card", encode_card("abc.def"), TagKind.SHOPPER_CARD, "abc.def", TagSource.CARD_MIME, None),
    ("badge", encode_badge("abc.def"), TagKind.STAFF_BADGE, "abc.def", TagSource.BADGE_MIME, None),
    ("note first, product second", _message(ndef.TextRecord("hello"), ndef.UriRecord(f"{SHOP}/p/BOOT-5")),
     TagKind.PRODUCT, "BOOT-5", TagSource.URI_RECORD, None),
    ("app record first, card second", _message(_mime("urn:nfc:ext:android.com:pkg", b"x"), _mime(CARD_MIME, b"t.s")),
     TagKind.SHOPPER_CARD, "t.s", TagSource.CARD_MIME, None),
    ("first store record decides", _message(ndef.UriRecord(f"{SHOP}/p/A-1"), _mime(CARD_MIME, b"t.s")),
     TagKind.PRODUCT, "A-1", TagSource.URI_RECORD, None),
    ("ME flag missing (sloppy writer)", bytes([encode_product(SHOP, "B-1")[0] & ~0x40])
     + encode_product(SHOP, "B-1")[1:], TagKind.PRODUCT, "B-1", TagSource.URI_RECORD, None),
    ("uri not a product", _message(ndef.UriRecord(f"{SHOP}/about")), TagKind.UNREADABLE, None, None,
     "not a product"),
    ("lower-case sku", _message(ndef.UriRecord(f"{SHOP}/p/boot-1")), TagKind.UNREADABLE, None, None,
     "not a valid SKU"),
    ("ftp scheme", _message(ndef.UriRecord("ftp://x/p/BOOT-1")), TagKind.UNREADABLE, None, None, "not a product"),
    ("smart poster elsewhere", _message(ndef.SmartposterRecord("https://news.example/a")), TagKind.UNREADABLE,
     None, None, "not a product"),
    ("smart poster without address", b"\xd1\x02\x00Sp", TagKind.UNREADABLE, None, None, "without an address"),
    ("text only", _message(ndef.TextRecord("hello")), TagKind.UNREADABLE, None, None,
     "no product, offer, card or badge"),
    ("text lower-case sku", _message(ndef.TextRecord("boot-1")), TagKind.UNREADABLE, None, None,
     "no product, offer, card or badge"),
    ("product mime, bad json", _message(_mime(PRODUCT_MIME, b"{")), TagKind.UNREADABLE, None, None,
     "bad product record"),
    ("product mime, bad sku", _message(_mime(PRODUCT_MIME, b'{"v":1,"sku":"no good"}')), TagKind.UNREADABLE, None,
     None, "bad product record"),
    ("product mime, version 2", _message(_mime(PRODUCT_MIME, b'{"v":2,"sku":"A"}')), TagKind.UNREADABLE, None,
     None, "bad product record"),
    ("product mime, not utf-8", _message(_mime(PRODUCT_MIME, b"\xff\xfe")), TagKind.UNREADABLE, None, None,
     "bad product record"),
    ("card, not ascii", _message(_mime(CARD_MIME, b"\xff\xfe")), TagKind.UNREADABLE, None, None, "not ASCII"),
    ("card, empty", _message(_mime(CARD_MIME, b"")), TagKind.UNREADABLE, None, None, "empty or too long"),
    ("badge, too long", _message(_mime(BADGE_MIME, b"a" * 1025)), TagKind.UNREADABLE, None, None,
     "empty or too long"),
    ("card, control characters", _message(_mime(CARD_MIME, b"a\x1b[2Jb")), TagKind.UNREADABLE, None, None,
     "control characters"),
    ("image only", _message(_mime("image/png", b"\x89PNG")), TagKind.UNREADABLE, None, None,
     "no product, offer, card or badge"),
    ("empty message", b"", TagKind.UNREADABLE, None, None, "empty NDEF"),
    ("truncated", encode_product(SHOP, "BOOT-1")[:-4], TagKind.UNREADABLE, None, None, "malformed NDEF"),
    ("garbage", b"\xff\x00\x13", TagKind.UNREADABLE, None, None, "malformed NDEF"),
]


@pytest.mark.parametrize(("what", "message", "kind", "value", "source", "reason"), CASES, ids=[c[0] for c in CASES])
def test_decode_tag(what: str, message: bytes, kind: TagKind, value: str | None, source: TagSource | None,
                    reason: str | None) -> None:
    read = decode_tag(UID, message)
    assert read.kind is kind
    assert read.uid == UID
    assert (read.sku or read.token) == value
    assert read.source is source
    if reason is not None:
        assert read.reason is not None and reason in read.reason


def test_product_tag_is_a_web_shop_address() -> None:
    records = list(ndef.message_decoder(encode_product(SHOP + "/", "BOOT-1")))
    assert records[0].iri == "https://shop.example.com/p/BOOT-1"


def test_mime_product_payload_is_versioned_json() -> None:
    record = next(iter(ndef.message_decoder(encode_product_mime("BOOT-1"))))
    assert record.type == PRODUCT_MIME
    assert json.loads(record.data) == {"v": 1, "sku": "BOOT-1"}


@pytest.mark.parametrize("sku", ["", "boot-1", "-BOOT", "BOOT 1", "A" * 33, "BOOT/1"])
def test_encoders_refuse_invalid_skus(sku: str) -> None:
    encoders = [lambda s: encode_product(SHOP, s), lambda s: encode_product_smart_poster(SHOP, s),
                encode_product_text, encode_product_mime, lambda s: product_uri(SHOP, s), validate_sku]
    for encode in encoders:
        with pytest.raises(ValueError, match="not a valid SKU"):
            encode(sku)


@pytest.mark.parametrize("token", ["", "has space", "a" * 1025, "tökén"])
def test_card_encoder_refuses_what_no_reader_would_accept(token: str) -> None:
    with pytest.raises(ValueError):
        encode_card(token)


@given(SKU_STRATEGY)
def test_every_product_form_round_trips(sku: str) -> None:
    encodings = {
        TagSource.URI_RECORD: encode_product(SHOP, sku),
        TagSource.SMART_POSTER: encode_product_smart_poster(SHOP, sku, "Title"),
        TagSource.TEXT_RECORD: encode_product_text(sku),
        TagSource.PRODUCT_MIME: encode_product_mime(sku),
    }
    for source, message in encodings.items():
        assert decode_tag(UID, message) == TagRead(TagKind.PRODUCT, UID, sku=sku, source=source)


# --- Hardening: whatever a tag holds, only the documented outcomes come out. ---------------

def _assert_well_formed(read: TagRead) -> None:
    """A TagRead the kiosk can act on without further checks."""
    assert read.uid == UID
    if read.kind is TagKind.PRODUCT:
        assert read.sku is not None and SKU_PATTERN.match(read.sku) and read.token is None
    elif read.kind in (TagKind.SHOPPER_CARD, TagKind.STAFF_BADGE):
        assert read.token and len(read.token) <= 1024 and read.token.isascii() and read.token.isprintable()
        assert " " not in read.token and read.sku is None
    else:
        assert read.kind is TagKind.UNREADABLE and read.reason and read.sku is None and read.token is None
        assert read.reason.isprintable(), read.reason


def _decode_strictly(message: bytes) -> None:
    """The strict layers raise TagDecodeError and nothing else."""
    with contextlib.suppress(TagDecodeError):
        decode_records(UID, parse_message(message))


_TEXT = st.text(max_size=60)
_RECORD = st.one_of(
    st.builds(ndef.UriRecord, st.one_of(_TEXT, st.builds(lambda s: f"{SHOP}/p/{s}", _TEXT))),
    st.builds(lambda sku: ndef.UriRecord(f"{SHOP}/p/{sku}"), SKU_STRATEGY),
    st.builds(ndef.TextRecord, _TEXT, st.sampled_from(["en", "es", "x" * 10])),
    st.builds(lambda sku: ndef.SmartposterRecord(f"https://s/p/{sku}"), SKU_STRATEGY),
    st.builds(ndef.SmartposterRecord, _TEXT.filter(bool)),
    st.builds(_mime, st.just(PRODUCT_MIME), st.one_of(
        st.binary(max_size=80),
        st.builds(lambda v, s: json.dumps({"v": v, "sku": s}).encode(), st.integers(-1, 3), _TEXT),
        st.builds(lambda v: json.dumps(v).encode(), st.recursive(
            st.none() | st.booleans() | st.integers() | _TEXT,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8)),
    )),
    st.builds(_mime, st.sampled_from([CARD_MIME, BADGE_MIME]), st.binary(max_size=1100)),
    st.builds(_mime, st.sampled_from(["image/png", "text/plain", "application/json"]), st.binary(max_size=40)),
    st.builds(lambda name, data: ndef.Record(f"urn:nfc:ext:{name or 'x'}", "", data),
              st.from_regex(r"[a-z.]{0,20}:[a-z]{1,10}", fullmatch=True), st.binary(max_size=40)),
    st.builds(lambda data: ndef.Record("unknown", "", data), st.binary(max_size=40)),
)


@st.composite
def _raw_record(draw: st.DrawFn) -> bytes:
    """A record with a hand-made header: any TNF and flags, a type store tags use (or not),
    lengths that need not agree with what follows."""
    tnf = draw(st.sampled_from([1, 1, 1, 2, 2, 0, 3, 4, 5, 6, 7]))  # mostly well-known and MIME types
    type_name = draw(st.sampled_from(["U", "T", "Sp", PRODUCT_MIME, CARD_MIME, BADGE_MIME, "text/plain", ""])).encode()
    payload = draw(st.one_of(st.just(b""), st.binary(max_size=40)))
    flags = draw(st.integers(0, 3)) << 6 | 0x10 | tnf  # MB/ME as drawn, short record
    length = max(0, min(255, len(payload) + draw(st.sampled_from([0, 0, 0, 1, -1]))))
    return bytes([flags, len(type_name), length]) + type_name + payload


@given(st.lists(_raw_record(), min_size=1, max_size=3))
def test_hand_made_record_headers_give_a_well_formed_read(records: list[bytes]) -> None:
    message = b"".join(records)
    _assert_well_formed(decode_tag(UID, message))
    _decode_strictly(message)


@given(st.binary(max_size=512))
def test_arbitrary_bytes_give_a_well_formed_read(data: bytes) -> None:
    _assert_well_formed(decode_tag(UID, data))
    _decode_strictly(data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RECORD, max_size=5))
def test_arbitrary_record_combinations_give_a_well_formed_read(records: list[ndef.Record]) -> None:
    message = _message(*records)
    _assert_well_formed(decode_tag(UID, message))
    _decode_strictly(message)


@given(st.lists(_RECORD, min_size=1, max_size=3), st.data())
def test_damaged_store_tags_give_a_well_formed_read(records: list[ndef.Record], data: st.DataObject) -> None:
    """Worn or tampered tags: valid messages with bytes flipped, cut or spliced in."""
    message = bytearray(_message(*records))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(message)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and position < len(message):
            message[position] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del message[position:]
        else:
            message[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    _assert_well_formed(decode_tag(UID, bytes(message)))
    _decode_strictly(bytes(message))
