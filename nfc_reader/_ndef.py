"""NDEF content of store tags, both ways: bytes -> TagRead and tag content -> bytes.

Product tags carry a URI record ``https://<shop>/p/<sku>`` so that a shopper's phone
tapping the same tag opens the product on the web shop. The kiosk also understands the
other ways stores label products: a Smart Poster around that URI, a Text record holding
the SKU (or the address), and the project's own MIME record
``application/vnd.nfckiosk.product`` with ``{"v": 1, "sku": "..."}``. Cards and badges
carry a MIME record whose payload is a signed token (see ``_tokens``).

The first record that says what the tag is decides; records that say nothing a store
tag says (an app launcher, a plain note) are passed over. Message framing is read
leniently (a missing MB/ME flag on a sloppily written tag is forgiven), content strictly.
"""

from __future__ import annotations

import json
import re
from typing import Literal
from urllib.parse import urlsplit

import ndef
import pydantic

from nfc_reader._tagread import TagKind, TagRead, TagSource
from nfc_reader.exceptions import TagDecodeError

CARD_MIME = "application/vnd.nfckiosk.card"
BADGE_MIME = "application/vnd.nfckiosk.badge"
PRODUCT_MIME = "application/vnd.nfckiosk.product"
SKU_REGEX = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
SKU_PATTERN = re.compile(SKU_REGEX)
MAX_TOKEN_LENGTH = 1024
_PRODUCT_PATH = re.compile(r"^/p/(?P<sku>[^/]+)/?$")
# A token is two base64url parts and a dot: printable ASCII without spaces.
_TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")


class _ProductPayload(pydantic.BaseModel):
    """The JSON payload of the project's product MIME record."""

    model_config = pydantic.ConfigDict(extra="ignore", frozen=True, strict=True)

    v: Literal[1]
    sku: str = pydantic.Field(pattern=SKU_REGEX)


def validate_sku(sku: str) -> str:
    """Return ``sku`` if it is a valid SKU (upper-case letters, digits, dashes; 1-32).

    Raises:
        ValueError: it is not.
    """
    if not isinstance(sku, str) or not SKU_PATTERN.match(sku):
        raise ValueError(f"not a valid SKU: {sku!r} (upper-case letters, digits and '-', at most 32)")
    return sku


def product_uri(shop_url: str, sku: str) -> str:
    """The web shop address a product tag carries.

    Raises:
        ValueError: ``sku`` is not a valid SKU.
    """
    return f"{shop_url.rstrip('/')}/p/{validate_sku(sku)}"


def encode_product(shop_url: str, sku: str) -> bytes:
    """NDEF message bytes for a product tag: one URI record with the web shop address."""
    return _encode([ndef.UriRecord(product_uri(shop_url, sku))])


def encode_product_smart_poster(shop_url: str, sku: str, title: str | None = None, language: str = "en") -> bytes:
    """NDEF message bytes for a product tag as a Smart Poster (address plus a title phones show)."""
    record = ndef.SmartposterRecord(product_uri(shop_url, sku))
    if title:
        record.set_title(title, language)
    return _encode([record])


def encode_product_text(sku: str, language: str = "en") -> bytes:
    """NDEF message bytes for a product tag holding the bare SKU in a Text record."""
    return _encode([ndef.TextRecord(validate_sku(sku), language)])


def encode_product_mime(sku: str) -> bytes:
    """NDEF message bytes for a product tag with the project's product MIME record."""
    payload = json.dumps({"v": 1, "sku": validate_sku(sku)}, separators=(",", ":")).encode()
    return _encode([ndef.Record(PRODUCT_MIME, "", payload)])


def encode_card(token: str) -> bytes:
    """NDEF message bytes for a shopper loyalty card."""
    return _encode([ndef.Record(CARD_MIME, "", _token_bytes(token))])


def encode_badge(token: str) -> bytes:
    """NDEF message bytes for a staff badge."""
    return _encode([ndef.Record(BADGE_MIME, "", _token_bytes(token))])


def decode_tag(uid: str, message: bytes) -> TagRead:
    """Turn a tag's UID and raw NDEF message into a TagRead; never raises.

    Content that is not a store tag becomes an ``unreadable`` read with the reason.
    """
    try:
        return decode_records(uid, parse_message(message))
    except TagDecodeError as exc:
        # The reason may quote the tag: keep its control characters out of logs and screens.
        return TagRead.unreadable(uid, printable_text(str(exc), limit=300))


def parse_message(message: bytes) -> list[ndef.Record]:
    """Split raw NDEF message bytes into records.

    Raises:
        TagDecodeError: the bytes are not an NDEF message.
    """
    try:
        return list(ndef.message_decoder(bytes(message), errors="relax"))
    except (ndef.DecodeError, ValueError, TypeError, UnicodeError) as exc:
        raise TagDecodeError(f"malformed NDEF: {exc}") from exc


def decode_records(uid: str, records: list[ndef.Record]) -> TagRead:
    """The first record a store tag uses decides what the tap is.

    Raises:
        TagDecodeError: no record of a kind store tags carry, or a bad one.
    """
    if not records:
        raise TagDecodeError("empty NDEF message")
    passed_over: list[str] = []
    for record in records:
        read = _decide(uid, record, passed_over)
        if read is not None:
            return read
    if passed_over:
        raise TagDecodeError(passed_over[0])
    raise TagDecodeError(f"no product, card or badge record (types: {[printable_text(r.type) for r in records][:8]})")


def _decide(uid: str, record: ndef.Record, passed_over: list[str]) -> TagRead | None:
    """A TagRead if ``record`` says what the tag is, None if it says nothing a store tag says.

    Records that look like a store's but are not quite are noted in ``passed_over``;
    records of the project's own types that are broken raise.
    """
    if isinstance(record, ndef.SmartposterRecord):
        if record.resource is None:  # leniently decoded, a poster may come without its address
            passed_over.append("smart poster without an address")
            return None
        return _product_from_address(uid, record.resource.iri, TagSource.SMART_POSTER, passed_over)
    if isinstance(record, ndef.UriRecord):
        return _product_from_address(uid, record.iri, TagSource.URI_RECORD, passed_over)
    if isinstance(record, ndef.TextRecord):
        text = record.text.strip()
        if SKU_PATTERN.match(text):
            return TagRead(TagKind.PRODUCT, uid, sku=text, source=TagSource.TEXT_RECORD)
        if text.startswith(("https://", "http://")):
            return _product_from_address(uid, text, TagSource.TEXT_RECORD, passed_over)
        return None  # a note for people, not for the kiosk
    if record.type == PRODUCT_MIME:
        try:
            payload = _ProductPayload.model_validate_json(bytes(record.data))
        except pydantic.ValidationError as exc:
            raise TagDecodeError(f"bad product record: {exc.errors()[0]['msg']}") from exc
        return TagRead(TagKind.PRODUCT, uid, sku=payload.sku, source=TagSource.PRODUCT_MIME)
    if record.type == CARD_MIME:
        return TagRead(TagKind.SHOPPER_CARD, uid, token=_ascii_token(record.data), source=TagSource.CARD_MIME)
    if record.type == BADGE_MIME:
        return TagRead(TagKind.STAFF_BADGE, uid, token=_ascii_token(record.data), source=TagSource.BADGE_MIME)
    return None


def _product_from_address(uid: str, address: str, source: TagSource, passed_over: list[str]) -> TagRead | None:
    try:
        sku = _sku_from_uri(address)
    except TagDecodeError as exc:
        passed_over.append(str(exc))
        return None
    return TagRead(TagKind.PRODUCT, uid, sku=sku, source=source)


def _sku_from_uri(uri: str) -> str:
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise TagDecodeError(f"not a product address: {printable_text(uri)!r}") from exc
    match = _PRODUCT_PATH.match(parts.path)
    if parts.scheme not in ("https", "http") or not parts.netloc or match is None:
        raise TagDecodeError(f"not a product address: {printable_text(uri)!r}")
    sku = match.group("sku")
    if not SKU_PATTERN.match(sku):
        raise TagDecodeError(f"not a valid SKU: {printable_text(sku)!r}")
    return sku


def _ascii_token(data: bytes) -> str:
    try:
        token = bytes(data).decode("ascii")
    except UnicodeDecodeError as exc:
        raise TagDecodeError("token is not ASCII") from exc
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TagDecodeError("token is empty or too long")
    if not _TOKEN_CHARS.match(token):
        raise TagDecodeError("token holds spaces or control characters")
    return token


def _token_bytes(token: str) -> bytes:
    data = token.encode("ascii")
    if not data or len(data) > MAX_TOKEN_LENGTH or not _TOKEN_CHARS.match(token):
        raise ValueError("a token is 1 to 1024 printable ASCII characters without spaces")
    return data


def _encode(records: list[ndef.Record]) -> bytes:
    return b"".join(ndef.message_encoder(records))


def printable_text(text: str, limit: int = 80) -> str:
    """Tag text made safe for logs and screens: no control characters, bounded length."""
    cleaned = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")
