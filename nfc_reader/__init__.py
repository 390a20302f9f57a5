"""NFC reading for the kiosk: readers by path, tag content to TagRead, what a card or
badge tap proves (the signed tokens themselves are ``kiosk_protocol``'s), the UID table
for tags without NDEF, staff tag tools (read, write) and a simulated tag over nfcpy's
udp driver.

Readers: ``TagReader(path, on_read, on_status)`` calls ``on_read(TagRead)`` once per tap;
``write_next`` writes the next tag presented instead (staff mode).
Tags: ``decode_tag`` and the ``encode_*`` functions (products, signs, cards, badges); cards and badges carry tokens that
``check_identity`` verifies. Staff: ``inspect_tag``, ``write_tag``, ``UidTable``.
Simulator: ``TagEmulator``. Errors: ``nfc_reader.exceptions``.
"""

from nfc_reader._device import AUTO, AUTO_PATHS
from nfc_reader._emulator import TagEmulator, TapTiming
from nfc_reader._identity import IdentityCheck, check_identity
from nfc_reader._ndef import (
    BADGE_MIME,
    CARD_MIME,
    OFFER_MIME,
    PRODUCT_MIME,
    decode_tag,
    encode_badge,
    encode_card,
    encode_offer,
    encode_offer_mime,
    encode_offer_smart_poster,
    encode_offer_text,
    encode_product,
    encode_product_mime,
    encode_product_smart_poster,
    encode_product_text,
    offer_uri,
    product_uri,
    validate_offer_id,
    validate_sku,
)
from nfc_reader._reader import ReaderCounters, ReaderState, ReaderStatus, TagReader
from nfc_reader._tagread import TagKind, TagRead, TagSource
from nfc_reader._tagtools import TagReport, WriteResult, describe_records, inspect_tag, write_tag
from nfc_reader._taps import TapPolicy
from nfc_reader._uidtable import UidTable, normalize_uid
from nfc_reader.exceptions import (
    EmulatorError,
    NfcReaderError,
    NoTagPresented,
    ReaderProblem,
    ReaderUnavailable,
    TagDecodeError,
    TagWriteError,
    UidTableError,
    WriteAlreadyPending,
    WriteRefusal,
)

__all__ = [
    "AUTO",
    "AUTO_PATHS",
    "BADGE_MIME",
    "CARD_MIME",
    "OFFER_MIME",
    "PRODUCT_MIME",
    "EmulatorError",
    "IdentityCheck",
    "NfcReaderError",
    "NoTagPresented",
    "ReaderCounters",
    "ReaderProblem",
    "ReaderState",
    "ReaderStatus",
    "ReaderUnavailable",
    "TagDecodeError",
    "TagEmulator",
    "TagKind",
    "TagRead",
    "TagReader",
    "TagReport",
    "TagSource",
    "TagWriteError",
    "TapPolicy",
    "TapTiming",
    "UidTable",
    "UidTableError",
    "WriteAlreadyPending",
    "WriteRefusal",
    "WriteResult",
    "check_identity",
    "decode_tag",
    "describe_records",
    "encode_badge",
    "encode_card",
    "encode_offer",
    "encode_offer_mime",
    "encode_offer_smart_poster",
    "encode_offer_text",
    "encode_product",
    "encode_product_mime",
    "encode_product_smart_poster",
    "encode_product_text",
    "inspect_tag",
    "normalize_uid",
    "offer_uri",
    "product_uri",
    "validate_offer_id",
    "validate_sku",
    "write_tag",
]
