"""Keeping garbage collection from freezing the screen while a large catalog comes in and
the old one goes.

A 50,000-product catalog is millions of objects: each collection its build triggered
walked them all with every thread stopped (up to 900 ms at a time), and freeing the old
products on the screen's thread was one ~100 ms frame.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SWAP_WAIT_S = 5.0  # how long the update thread waits for the screen's thread to take the new catalog
RELEASE_BATCH = 500  # products freed per step: well under a millisecond
# A full collection falls due after this many young ones: never, while a catalog is built.
_NO_FULL_COLLECTION = 2**31 - 1


@contextmanager
def no_full_collections() -> Iterator[None]:
    """No full garbage collection while a catalog is built, and what it built is kept out of later ones.

    ``gc.freeze`` moves every object the collector tracks, garbage included, where no
    collection ever looks again: a reference cycle frozen is never freed. So the garbage
    waiting when the build starts is collected first (a cheap collection: what start-up and
    the catalogs before froze is not walked), and the young collections go on during the build
    (each walks a few thousand new objects, never the catalog built so far): what the screen's
    and the other threads drop meanwhile is freed, not frozen. With all collections off, each
    update froze for good what the build's seconds left behind (stopped MQTT clients with their
    sockets, the reader's timeouts with their frames, a fade's screen-sized framebuffers).
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.set_threshold(thresholds[0], thresholds[1], _NO_FULL_COLLECTION)
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*thresholds)


def swap_then_release(dispatch: Callable[[Callable[[], None]], None], swap: Callable[[], None],
                      retired: list[Any]) -> None:
    """Run ``swap`` on the screen's thread through ``dispatch``, then free ``retired`` on this one.

    ``retired`` holds the old catalog's products, so the screen's thread drops only the
    catalog around them; this thread then frees them a few at a time, giving the GIL back
    to the screen's thread in between.
    """
    swapped = threading.Event()

    def run() -> None:
        try:
            swap()
        finally:
            swapped.set()

    dispatch(run)
    swapped.wait(SWAP_WAIT_S)
    while retired:
        del retired[-RELEASE_BATCH:]
