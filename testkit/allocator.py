"""What freeing large blocks leaves with the process, under glibc's threshold as it stands."""

from __future__ import annotations

import os

BLOCK = 1 << 20


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
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

