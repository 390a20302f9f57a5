"""The soak benchmark, short: the real kiosk app under Xvfb through visits, sign-ins, catalog
updates and a broker restart, with HQ's ingest and file server in processes of their own, its
figures measured at the start and the end (the hour's run is `python -m benchmarks.soak`;
no figure is judged here, only that every part ran and was measured)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.soak import MemoryTrace, measure


def test_a_short_soak_runs_every_part_and_measures_both_ends(xvfb_display: str, tmp_path: Path) -> None:
    result = measure(tmp_path, minutes=1.5, update_every_s=30, trace=MemoryTrace(python_allocations=False))

    assert result["updates"] >= 2  # each one applied: the kiosk switched to the new version
    assert result["broker_restarts"] == 1 and result["left_in_outbox"] == 0
    assert result["visits"] >= 4 and result["sign_ins"] >= 2 and result["taps"] >= 10
    for window in ("start", "end"):
        assert result[window]["samples"] >= 1 and result[window]["rss_mb"] > 0 and result[window]["fds"] > 0
        assert result[window]["frames"]["count"] > 0
    assert result["rss_growth"] is not None and isinstance(result["long_frames_outside_taps"], int)
    assert len(result["long_frames_outside_taps_after"]) == result["long_frames_outside_taps"]
    trace = result["memory_trace"]
    assert len(trace["rss_mb_before_after_malloc_trim"]) == 2 and "objects_grown" in trace
