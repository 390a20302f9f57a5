"""What freeing large blocks leaves with the process, under glibc's threshold as it stands."""

from __future__ import annotations

import ctypes

BLOCK = 1 << 20
IS_MMAPPED = 0x2  # the flag glibc sets in a chunk's size word when the chunk is a mapping of its own


def large_blocks_left_behind_mb(blocks: int = 64) -> float:
    """Free one large block (which raises glibc's threshold unless fixed), then ``blocks`` more,
    each beside a small block that stays; the resident MB they leave behind."""
    first = bytearray(BLOCK)
    del first
    before = _resident_mb()
    large, kept = [], []
    for _ in range(blocks):
        large.append(bytearray(BLOCK))
        kept.append(bytearray(2048))  # pins the heap between the large blocks
    del large
    return _resident_mb() - before


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def large_block_is_mapped() -> bool:
    """Whether a 1 MB block gets a mapping of its own (so its free returns it) right after a
    4 MB one was freed, which raises glibc's threshold above it unless the threshold is fixed."""
    raising = bytearray(4 * BLOCK)
    del raising
    block = bytearray(BLOCK)
    address = ctypes.addressof((ctypes.c_char * len(block)).from_buffer(block))
    chunk_size = ctypes.c_size_t.from_address(address - ctypes.sizeof(ctypes.c_size_t)).value
    return bool(chunk_size & IS_MMAPPED)
