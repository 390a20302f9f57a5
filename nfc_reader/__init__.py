"""NFC reading for the kiosk: readers by path, tag content to TagRead, signed card
tokens, and a simulated tag over nfcpy's udp driver.
"""

from nfc_reader._emulator import TagEmulator
from nfc_reader._ndef import decode_tag, encode_badge, encode_card, encode_product, product_uri
from nfc_reader._reader import ReaderState, ReaderStatus, TagReader
from nfc_reader._tagread import TagKind, TagRead
from nfc_reader._tokens import Role, Token, issue_token, public_key_from_pem, public_key_to_pem, verify_token
from nfc_reader.exceptions import NfcReaderError, ReaderUnavailable, TagDecodeError, TokenError

__all__ = [
    "NfcReaderError",
    "ReaderState",
    "ReaderStatus",
    "ReaderUnavailable",
    "Role",
    "TagDecodeError",
    "TagEmulator",
    "TagKind",
    "TagRead",
    "TagReader",
    "Token",
    "TokenError",
    "decode_tag",
    "encode_badge",
    "encode_card",
    "encode_product",
    "issue_token",
    "product_uri",
    "public_key_from_pem",
    "public_key_to_pem",
    "verify_token",
]
