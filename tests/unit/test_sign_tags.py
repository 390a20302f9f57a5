"""Sign tags: an offer's address (or the project's offer record) -> TagRead, and back."""

from __future__ import annotations

import json

import ndef
import pytest

from nfc_reader import (
    OFFER_MIME,
    TagKind,
    TagSource,
    decode_tag,
    encode_offer,
    encode_offer_mime,
    encode_offer_smart_poster,
    encode_offer_text,
    encode_product,
    offer_uri,
    validate_offer_id,
)

UID = "02FE000000000001"
SHOP = "https://shop.example.com"


def _message(*records: ndef.Record) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


# (what, message, expected offer id, expected source, expected host)
SIGNS = [
    ("uri", encode_offer(SHOP, "WINTER-BOOTS"), "WINTER-BOOTS", TagSource.URI_RECORD, "shop.example.com"),
    ("uri, trailing slash", _message(ndef.UriRecord(f"{SHOP}/o/WINTER-BOOTS/")), "WINTER-BOOTS",
     TagSource.URI_RECORD, "shop.example.com"),
    ("uri, host in capitals", _message(ndef.UriRecord("https://SHOP.Example.com/o/A1")), "A1", TagSource.URI_RECORD,
     "shop.example.com"),
    ("smart poster", encode_offer_smart_poster(SHOP, "WINTER-BOOTS", "20% off boots"), "WINTER-BOOTS",
     TagSource.SMART_POSTER, "shop.example.com"),
    ("text address", encode_offer_text(SHOP, "WINTER-BOOTS"), "WINTER-BOOTS", TagSource.TEXT_RECORD,
     "shop.example.com"),
    ("mime", encode_offer_mime("WINTER-BOOTS"), "WINTER-BOOTS", TagSource.OFFER_MIME, None),
    ("mime, extra fields", _message(ndef.Record(OFFER_MIME, "", b'{"v":1,"offer":"X-1","title":"t"}')), "X-1",
     TagSource.OFFER_MIME, None),
    ("note first, sign second", _message(ndef.TextRecord("20% off"), ndef.UriRecord(f"{SHOP}/o/X-1")), "X-1",
     TagSource.URI_RECORD, "shop.example.com"),
    ("another shop's sign still reads, with its host", encode_offer("https://other.example", "X-1"), "X-1",
     TagSource.URI_RECORD, "other.example"),
    ("longest id", encode_offer(SHOP, "A" * 48), "A" * 48, TagSource.URI_RECORD, "shop.example.com"),
]


@pytest.mark.parametrize(("what", "message", "offer", "source", "host"), SIGNS, ids=[c[0] for c in SIGNS])
def test_a_sign_reads_as_its_offer(what: str, message: bytes, offer: str, source: TagSource,
                                   host: str | None) -> None:
    read = decode_tag(UID, message)
    assert (read.kind, read.uid, read.offer, read.source, read.host) == (TagKind.OFFER, UID, offer, source, host)
    assert read.sku is None and read.token is None


# (what, message, reason fragment)
BROKEN = [
    ("lower-case id", _message(ndef.UriRecord(f"{SHOP}/o/winter-boots")), "not a valid offer id: 'winter-boots'"),
    ("id too long", _message(ndef.UriRecord(f"{SHOP}/o/{'A' * 49}")), "not a valid offer id"),
    ("id with a dot", _message(ndef.UriRecord(f"{SHOP}/o/A.B")), "not a valid offer id"),
    ("id with an escape", _message(ndef.UriRecord(f"{SHOP}/o/A%1B")), "not a valid offer id"),
    ("no id", _message(ndef.UriRecord(f"{SHOP}/o/")), "not a product or offer address"),
    ("deeper path", _message(ndef.UriRecord(f"{SHOP}/o/A/B")), "not a product or offer address"),
    ("ftp scheme", _message(ndef.UriRecord("ftp://shop/o/A")), "not a product or offer address"),
    ("bad port", _message(ndef.UriRecord("https://shop:x/o/A")), "not a product or offer address"),
    ("mime, bad id", _message(ndef.Record(OFFER_MIME, "", b'{"v":1,"offer":"a b"}')), "bad offer record"),
    ("mime, version 2", _message(ndef.Record(OFFER_MIME, "", b'{"v":2,"offer":"A"}')), "bad offer record"),
    ("mime, not json", _message(ndef.Record(OFFER_MIME, "", b"{")), "bad offer record"),
    ("mime, id not a string", _message(ndef.Record(OFFER_MIME, "", b'{"v":1,"offer":7}')), "bad offer record"),
]


@pytest.mark.parametrize(("what", "message", "reason"), BROKEN, ids=[c[0] for c in BROKEN])
def test_a_broken_sign_is_unreadable_and_says_why(what: str, message: bytes, reason: str) -> None:
    read = decode_tag(UID, message)
    assert read.kind is TagKind.UNREADABLE and read.offer is None
    assert read.reason is not None and reason in read.reason


def test_a_bad_id_says_so_even_after_a_note_and_a_good_record_after_it_still_decides() -> None:
    assert decode_tag(UID, _message(ndef.TextRecord("hi"), ndef.UriRecord(f"{SHOP}/o/bad"))).reason == (
        "not a valid offer id: 'bad'")
    read = decode_tag(UID, _message(ndef.UriRecord(f"{SHOP}/o/bad"), ndef.UriRecord(f"{SHOP}/o/GOOD")))
    assert (read.kind, read.offer) == (TagKind.OFFER, "GOOD")


def test_a_sign_is_the_offers_web_address_and_product_tags_are_unchanged() -> None:
    [record] = ndef.message_decoder(encode_offer(SHOP + "/", "WINTER-BOOTS"))
    assert record.iri == offer_uri(SHOP, "WINTER-BOOTS") == "https://shop.example.com/o/WINTER-BOOTS"
    product = decode_tag(UID, encode_product(SHOP, "BOOT-1"))
    assert (product.kind, product.sku, product.offer, product.host) == (TagKind.PRODUCT, "BOOT-1", None, None)


def test_the_offer_mime_payload_is_versioned_json() -> None:
    [record] = ndef.message_decoder(encode_offer_mime("WINTER-BOOTS"))
    assert record.type == OFFER_MIME == "application/vnd.nfckiosk.offer"
    assert json.loads(record.data) == {"v": 1, "offer": "WINTER-BOOTS"}


@pytest.mark.parametrize("offer_id", ["", "winter", "-A", "A B", "A" * 49, "A/B", "A\x1bB"])
def test_encoders_refuse_invalid_offer_ids(offer_id: str) -> None:
    encoders = [lambda i: encode_offer(SHOP, i), lambda i: encode_offer_smart_poster(SHOP, i),
                lambda i: encode_offer_text(SHOP, i), encode_offer_mime, lambda i: offer_uri(SHOP, i),
                validate_offer_id]
    for encode in encoders:
        with pytest.raises(ValueError, match="not a valid offer id"):
            encode(offer_id)
