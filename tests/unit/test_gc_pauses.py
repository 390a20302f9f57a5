"""A catalog update keeps what it built out of later garbage collections (``gc.freeze``), and
freezes no garbage with it: a reference cycle frozen is never freed, so one left at every
update grew the kiosk's memory and descriptors for as long as it ran."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from kiosk_app._gc_pauses import no_full_collections


class _Cyclic:
    """Something only a garbage collection frees: it refers to itself (as a stopped widget or client did)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def nothing_left_frozen() -> Iterator[None]:
    """The test process's collector as it was: nothing frozen, collections on."""
    yield
    gc.unfreeze()
    gc.enable()


def test_garbage_waiting_when_a_catalog_build_starts_is_freed_not_frozen() -> None:
    gc.collect()  # no collection falls due while the garbage below waits
    dropped = _Cyclic()
    gone = weakref.ref(dropped)
    del dropped  # garbage now, until a collection finds it
    with no_full_collections():
        built = [_Cyclic() for _ in range(3)]  # the new catalog
    kept = weakref.ref(built[0])
    gc.collect()
    assert gone() is None
    assert kept() is built[0] and gc.get_freeze_count() > 0  # what the build made is frozen, still in use
    assert gc.isenabled()


def test_garbage_dropped_while_the_catalog_is_built_is_freed_not_frozen() -> None:
    with no_full_collections():
        dropped = _Cyclic()
        gone = weakref.ref(dropped)
        del dropped  # by another thread meanwhile: a stopped client, a finished fade
        built = [[n] for n in range(10 * gc.get_threshold()[0])]  # the catalog goes on: young collections fall due
    gc.collect()
    assert gone() is None
    assert len(built) > 0


def test_no_full_collection_falls_due_while_the_catalog_is_built_and_the_thresholds_come_back() -> None:
    thresholds = gc.get_threshold()
    generations: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    with no_full_collections():
        gc.callbacks.append(note)
        try:
            built = [[n] for n in range(200 * thresholds[0] * thresholds[1])]  # many young collections' worth
        finally:
            gc.callbacks.remove(note)
    assert len(built) > 0 and generations and max(generations) < 2  # young ones only: none walks the catalog
    assert gc.get_threshold() == thresholds and gc.isenabled()
