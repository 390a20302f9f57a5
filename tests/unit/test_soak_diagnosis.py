"""What the soak says about where memory went and what came before each long frame."""

from __future__ import annotations

import gc
import time
import tracemalloc

from benchmarks.soak import MemoryTrace, Moments, resident_by_mapping


class Kept:
    """A kind of object the collector tracks, kept alive between the two snapshots."""


def test_the_memory_trace_names_the_line_that_allocated_what_grew_and_the_kinds_that_grew() -> None:
    trace = MemoryTrace()
    try:
        trace.take()
        kept = [Kept() for _ in range(5_000)]
        blobs = [bytearray(4096) for _ in range(2_000)]  # ~8 MB from one line
        trace.take()
    finally:
        tracemalloc.stop()
    report = trace.report()

    assert report["objects_grown"]["Kept"] == len(kept)
    biggest = report["grew_at"][0]
    assert biggest["kb"] >= len(blobs) * 4 and biggest["where"][-1].startswith(f"{__file__}:")
    assert report["traced_mb"][1] - report["traced_mb"][0] >= 7.5
    assert all(after <= before for before, after in report["rss_mb_before_after_malloc_trim"])
    assert sum(report["resident_grown_kb_by_mapping"].values()) > 0


def test_without_python_allocations_the_trace_still_reports_the_native_side() -> None:
    trace = MemoryTrace(python_allocations=False)
    trace.take()
    kept = [Kept() for _ in range(1_000)]
    trace.take()
    report = trace.report()

    assert not tracemalloc.is_tracing() and "grew_at" not in report
    assert report["objects_grown"]["Kept"] == len(kept)
    assert len(report["rss_mb_before_after_malloc_trim"]) == 2


def test_a_process_s_resident_memory_is_told_by_mapping() -> None:
    resident = resident_by_mapping()

    assert resident["[heap]"] > 0 and any(name.endswith(".so") or ".so." in name for name in resident)


def test_a_long_frame_outside_a_tap_is_told_with_what_came_just_before_it() -> None:
    moments = Moments()
    moments.window = "middle"
    moments.mark("a card tapped", at=100.0)
    moments.mark("the visit wiped", at=101.0)

    moments.on_long_frame(101.5, 63.0, tap=False)
    moments.on_long_frame(101.6, 90.0, tap=True)  # a tap's own frame: allowed, not told
    moments.on_long_frame(99.0, 70.0, tap=False)

    assert moments.long_frames == [{"window": "middle", "ms": 63.0, "after": "the visit wiped 0.5 s before"},
                                   {"window": "middle", "ms": 70.0, "after": "nothing yet"}]


def test_a_full_collection_is_a_moment_of_its_own() -> None:
    moments = Moments()
    gc.callbacks.append(moments.on_gc)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(moments.on_gc)

    assert moments.before(time.perf_counter()).startswith("a full collection (")
