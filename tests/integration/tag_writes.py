"""What both ways of writing a product tag are tried with: the staff command's writer
(``test_nfc_writer``) and the kiosk reader's ``write_next`` (``test_reader_write``) refuse
the same tags with the same words."""

from __future__ import annotations

from nfc_reader import WriteRefusal, encode_product

SHOP = "https://shop.example.com"
PRODUCT = encode_product(SHOP, "BOOT-CHELSEA-BLK")
OLD = encode_product(SHOP, "OLD-1")

# (what, emulator settings, message on the tag, refusal, message fragment)
REFUSALS = [
    ("read-only", {"read_only": True}, OLD, WriteRefusal.READ_ONLY, "read-only"),
    ("too small", {"capacity": 16}, b"", WriteRefusal.TOO_SMALL, f"needs {len(PRODUCT)} bytes, the tag holds 16"),
    ("not NDEF formatted", {}, None, WriteRefusal.NOT_NDEF, "not NDEF formatted"),
]
