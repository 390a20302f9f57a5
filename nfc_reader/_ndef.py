"""NDEF content of store tags, both ways: bytes -> TagRead and tag content -> bytes.

Product tags carry a URI record ``https://<shop>/p/<sku>`` so that a shopper's phone
tapping the same tag opens the product on the web shop. The kiosk also understands the
other ways stores label products: a Smart Poster around that URI, a Text record holding
the SKU (or the address), and the project's own MIME record
``application/vnd.nfckiosk.product`` with ``{"v": 1, "sku": "..."}``. Signs carry an
offer's address ``https://<shop>/o/<offer-id>`` the same ways (URI record, Smart Poster,
or a Text record holding the address; a bare id in a Text record would read as a SKU) or
``application/vnd.nfckiosk.offer`` with ``{"v": 1, "offer": "..."}``; a sign read from an
address says its host (``TagRead.host``), for the kiosk to check it is its own shop's: the
reader does not know the shop. Cards and badges carry a MIME record whose payload is a
signed token (see ``_tokens``).

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

from kiosk_protocol import OFFER_ID_PATTERN
from nfc_reader._tagread import TagKind, TagRead, TagSource
from nfc_reader.exceptions import TagDecodeError

CARD_MIME = "application/vnd.nfckiosk.card"
BADGE_MIME = "application/vnd.nfckiosk.badge"
PRODUCT_MIME = "application/vnd.nfckiosk.product"
OFFER_MIME = "application/vnd.nfckiosk.offer"
SKU_REGEX = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
SKU_PATTERN = re.compile(SKU_REGEX)
MAX_TOKEN_LENGTH = 1024
_PRODUCT_PATH = re.compile(r"^/p/(?P<sku>[^/]+)/?$")
_OFFER_PATH = re.compile(r"^/o/(?P<offer>[^/]+)/?$")
OFFER_PATTERN = re.compile(OFFER_ID_PATTERN)
# A token is two base64url parts and a dot: printable ASCII without spaces.
_TOKEN_CHARS = re.compile(r"^[\x21-\x7e]+$")


class _ProductPayload(pydantic.BaseModel):
    """The JSON payload of the project's product MIME record."""

    model_config = pydantic.ConfigDict(extra="ignore", frozen=True, strict=True)

    v: Literal[1]
    sku: str = pydantic.Field(pattern=SKU_REGEX)


class _OfferPayload(pydantic.BaseModel):
    """The JSON payload of the project's offer MIME record."""

    model_config = pydantic.ConfigDict(extra="ignore", frozen=True, strict=True)

    v: Literal[1]
    offer: str = pydantic.Field(pattern=OFFER_ID_PATTERN)


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


def validate_offer_id(offer_id: str) -> str:
    """Return ``offer_id`` if it is a valid offer id (upper-case letters, digits, dashes; 1-48).

    Raises:
        ValueError: it is not.
    """
    if not isinstance(offer_id, str) or not OFFER_PATTERN.match(offer_id):
        raise ValueError(f"not a valid offer id: {offer_id!r} (upper-case letters, digits and '-', at most 48)")
    return offer_id


def offer_uri(shop_url: str, offer_id: str) -> str:
    """The web shop address a sign carries (a phone tapping the sign opens the offer's page).

    Raises:
        ValueError: ``offer_id`` is not a valid offer id.
    """
    return f"{shop_url.rstrip('/')}/o/{validate_offer_id(offer_id)}"


def encode_offer(shop_url: str, offer_id: str) -> bytes:
    """NDEF message bytes for a sign: one URI record with the offer's address."""
    return _encode([ndef.UriRecord(offer_uri(shop_url, offer_id))])


def encode_offer_smart_poster(shop_url: str, offer_id: str, title: str | None = None,
                              language: str = "en") -> bytes:
    """NDEF message bytes for a sign as a Smart Poster (the offer's address plus a title phones show)."""
    record = ndef.SmartposterRecord(offer_uri(shop_url, offer_id))
    if title:
        record.set_title(title, language)
    return _encode([record])


def encode_offer_text(shop_url: str, offer_id: str, language: str = "en") -> bytes:
    """NDEF message bytes for a sign holding the offer's address in a Text record."""
    return _encode([ndef.TextRecord(offer_uri(shop_url, offer_id), language)])


def encode_offer_mime(offer_id: str) -> bytes:
    """NDEF message bytes for a sign with the project's offer MIME record."""
    payload = json.dumps({"v": 1, "offer": validate_offer_id(offer_id)}, separators=(",", ":")).encode()
    return _encode([ndef.Record(OFFER_MIME, "", payload)])


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
    types = [printable_text(r.type) for r in records][:8]
    raise TagDecodeError(f"no product, offer, card or badge record (types: {types})")


def _decide(uid: str, record: ndef.Record, passed_over: list[str]) -> TagRead | None:
    """A TagRead if ``record`` says what the tag is, None if it says nothing a store tag says.

    Records that look like a store's but are not quite are noted in ``passed_over``;
    records of the project's own types that are broken raise.
    """
    if isinstance(record, ndef.SmartposterRecord):
        if record.resource is None:  # leniently decoded, a poster may come without its address
            passed_over.append("smart poster without an address")
            return None
        return _from_address(uid, record.resource.iri, TagSource.SMART_POSTER, passed_over)
    if isinstance(record, ndef.UriRecord):
        return _from_address(uid, record.iri, TagSource.URI_RECORD, passed_over)
    if isinstance(record, ndef.TextRecord):
        text = record.text.strip()
        if SKU_PATTERN.match(text):
            return TagRead(TagKind.PRODUCT, uid, sku=text, source=TagSource.TEXT_RECORD)
        if text.startswith(("https://", "http://")):
            return _from_address(uid, text, TagSource.TEXT_RECORD, passed_over)
        return None  # a note for people, not for the kiosk
    if record.type == PRODUCT_MIME:
        try:
            payload = _ProductPayload.model_validate_json(bytes(record.data))
        except pydantic.ValidationError as exc:
            raise TagDecodeError(f"bad product record: {exc.errors()[0]['msg']}") from exc
        return TagRead(TagKind.PRODUCT, uid, sku=payload.sku, source=TagSource.PRODUCT_MIME)
    if record.type == OFFER_MIME:
        try:
            offer = _OfferPayload.model_validate_json(bytes(record.data))
        except pydantic.ValidationError as exc:
            raise TagDecodeError(f"bad offer record: {exc.errors()[0]['msg']}") from exc
        return TagRead(TagKind.OFFER, uid, offer=offer.offer, source=TagSource.OFFER_MIME)
    if record.type == CARD_MIME:
        return TagRead(TagKind.SHOPPER_CARD, uid, token=_ascii_token(record.data), source=TagSource.CARD_MIME)
    if record.type == BADGE_MIME:
        return TagRead(TagKind.STAFF_BADGE, uid, token=_ascii_token(record.data), source=TagSource.BADGE_MIME)
    return None


def _from_address(uid: str, address: str, source: TagSource, passed_over: list[str]) -> TagRead | None:
    """A product tag (``/p/<sku>``) or a sign (``/o/<offer-id>``) from a web shop address."""
    try:
        parts = urlsplit(address)
        host, _ = parts.hostname, parts.port  # a malformed port or bracket raises ValueError
    except ValueError:
        passed_over.append(f"not a product or offer address: {printable_text(address)!r}")
        return None
    if parts.scheme not in ("https", "http") or not host:
        passed_over.append(f"not a product or offer address: {printable_text(address)!r}")
        return None
    if (product := _PRODUCT_PATH.match(parts.path)) is not None:
        sku = product.group("sku")
        if not SKU_PATTERN.match(sku):
            passed_over.append(f"not a valid SKU: {printable_text(sku)!r}")
            return None
        return TagRead(TagKind.PRODUCT, uid, sku=sku, source=source)
    if (sign := _OFFER_PATH.match(parts.path)) is not None:
        offer_id = sign.group("offer")
        if not OFFER_PATTERN.match(offer_id):
            passed_over.append(f"not a valid offer id: {printable_text(offer_id)!r}")
            return None
        return TagRead(TagKind.OFFER, uid, offer=offer_id, source=source, host=host)
    passed_over.append(f"not a product or offer address: {printable_text(address)!r}")
    return None


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
