"""Keeping the kiosk's freed memory returnable to the system over days of shoppers and updates.

glibc serves a large block (from 128 KB) with a mapping of its own, returned on free, until
one such block is freed: from then on its threshold rises to that block's size (up to 32 MB),
and product images, label textures and a catalog update's buffers come from the heap, where
a freed block between live ones is kept by the process for good. Over the soak's hour that
was most of the kiosk's growth. A fixed threshold keeps every large block returnable.
"""

from __future__ import annotations

import ctypes
import logging
import platform

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BLOCK_BYTES = 128 * 1024  # glibc's own starting threshold, kept from rising


def keep_large_blocks_returnable() -> bool:
    """Fix glibc's mmap threshold for this process; False where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    if not ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES):
        log.warning("the C library refused a fixed mmap threshold: freed large blocks may stay with the kiosk")
        return False
    return True
