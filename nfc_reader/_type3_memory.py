"""A Type 3 tag's memory: the attribute block that says where its NDEF message is and
how long, followed by the NDEF data area, as the NFC Forum Type 3 Tag spec lays it out."""

from __future__ import annotations

import hashlib
import math
import struct

BLOCK = 16
_BLOCKS_PER_READ = 4


def type3_memory(message: bytes | None, capacity: int = 1024, read_only: bool = False) -> bytearray:
    """Tag memory: the Type 3 attribute block followed by an NDEF data area of ``capacity`` bytes.

    ``message`` None gives an unformatted tag (all zero: no NDEF).

    Raises:
        ValueError: the message does not fit.
    """
    blocks = max(1, math.ceil(capacity / BLOCK))
    if message is None:
        return bytearray(BLOCK + blocks * BLOCK)
    if len(message) > blocks * BLOCK:
        raise ValueError(f"message of {len(message)} bytes exceeds capacity {blocks * BLOCK}")
    attribute = bytearray(BLOCK)
    attribute[0] = 0x10  # mapping version 1.0
    attribute[1] = _BLOCKS_PER_READ
    attribute[2] = 1  # blocks per write
    attribute[3:5] = struct.pack(">H", blocks)
    attribute[10] = 0x00 if read_only else 0x01
    attribute[11:14] = struct.pack(">I", len(message))[1:]
    attribute[14:16] = struct.pack(">H", sum(attribute[:14]))
    return attribute + bytearray(message) + bytearray(blocks * BLOCK - len(message))


def ndef_in_memory(memory: bytes | bytearray) -> bytes | None:
    """The NDEF message Type 3 ``memory`` holds, or None if it is not NDEF formatted."""
    attribute = bytes(memory[:BLOCK])
    if len(attribute) < BLOCK or sum(attribute[:14]) != struct.unpack(">H", attribute[14:16])[0]:
        return None
    if attribute[0] >> 4 != 1:
        return None
    length = struct.unpack(">I", b"\x00" + attribute[11:14])[0]
    return bytes(memory[BLOCK : BLOCK + length])


def default_idm(message: bytes | None) -> bytes:
    """A tag UID derived from its content, so that different tags have different UIDs."""
    return bytes.fromhex("02FE") + hashlib.sha256(b"no-ndef" if message is None else message).digest()[:6]
