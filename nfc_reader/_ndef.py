"""NDEF content of store tags, both ways: bytes -> TagRead and tag content -> bytes.

Product tags carry a URI record ``https://<shop>/p/<sku>`` so that a shopper's phone
tapping the same tag opens the product on the web shop. Cards and badges carry a MIME
record whose payload is a signed token (see ``_tokens``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import ndef

from nfc_reader._tagread import TagKind, TagRead
from nfc_reader.exceptions import TagDecodeError

CARD_MIME = "application/vnd.nfckiosk.card"
BADGE_MIME = "application/vnd.nfckiosk.badge"
SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
_PRODUCT_PATH = re.compile(r"^/p/(?P<sku>[^/]+)/?$")


def product_uri(shop_url: str, sku: str) -> str:
    """The web shop address a product tag carries."""
    _check_sku(sku)
    return f"{shop_url.rstrip('/')}/p/{sku}"


def encode_product(shop_url: str, sku: str) -> bytes:
    """NDEF message bytes for a product tag."""
    return b"".join(ndef.message_encoder([ndef.UriRecord(product_uri(shop_url, sku))]))


def encode_card(token: str) -> bytes:
    """NDEF message bytes for a shopper loyalty card."""
    return b"".join(ndef.message_encoder([ndef.Record(CARD_MIME, "", token.encode("ascii"))]))


def encode_badge(token: str) -> bytes:
    """NDEF message bytes for a staff badge."""
    return b"".join(ndef.message_encoder([ndef.Record(BADGE_MIME, "", token.encode("ascii"))]))


def decode_tag(uid: str, message: bytes) -> TagRead:
    """Turn a tag's UID and raw NDEF message into a TagRead; never raises.

    Content that is not a store tag becomes an ``unreadable`` read with the reason.
    """
    try:
        records = list(ndef.message_decoder(message, errors="strict"))
    except (ndef.DecodeError, ValueError, TypeError) as exc:
        return TagRead.unreadable(uid, f"malformed NDEF: {exc}")
    try:
        return decode_records(uid, records)
    except TagDecodeError as exc:
        return TagRead.unreadable(uid, str(exc))


def decode_records(uid: str, records: list[ndef.Record]) -> TagRead:
    """The first record a store tag uses decides what the tap is.

    Raises:
        TagDecodeError: no record of a kind store tags carry, or a bad one.
    """
    if not records:
        raise TagDecodeError("empty NDEF message")
    for record in records:
        if isinstance(record, ndef.UriRecord):
            return TagRead(TagKind.PRODUCT, uid, sku=_sku_from_uri(record.iri))
        if record.type in (CARD_MIME, BADGE_MIME):
            kind = TagKind.SHOPPER_CARD if record.type == CARD_MIME else TagKind.STAFF_BADGE
            return TagRead(kind, uid, token=_ascii_token(record.data))
    raise TagDecodeError(f"no product, card or badge record (types: {[r.type for r in records]})")


def _sku_from_uri(uri: str) -> str:
    parts = urlsplit(uri)
    match = _PRODUCT_PATH.match(parts.path)
    if parts.scheme not in ("https", "http") or match is None:
        raise TagDecodeError(f"not a product address: {uri!r}")
    sku = match.group("sku")
    _check_sku(sku)
    return sku


def _check_sku(sku: str) -> None:
    if not SKU_PATTERN.match(sku):
        raise TagDecodeError(f"not a valid SKU: {sku!r}")


def _ascii_token(data: bytes) -> str:
    try:
        token = bytes(data).decode("ascii")
    except UnicodeDecodeError as exc:
        raise TagDecodeError("token is not ASCII") from exc
    if not token or len(token) > 1024:
        raise TagDecodeError("token is empty or too long")
    return token
