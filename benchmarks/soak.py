"""A long run of simulated shopping on the real kiosk app under Xvfb: does anything grow, or
slow down, after hours?

Shoppers come one after another: each taps a few products half a second apart, every other
one signs in with a loyalty card first (HQ answers with their profile), then walks away and
the idle timeout wipes the visit. Every ``--update-every`` seconds HQ publishes a new signed
catalog version (a price change) and the kiosk downloads and switches to it; halfway through
the broker restarts and the kiosk reconnects and drains what it held. HQ's ingest and file
server run in processes of their own, on a real Mosquitto.

Reported for a window at the start (after a minute's warm-up) and one at the end, each a
fifth of the run up to five minutes: the kiosk's resident memory and open descriptors and
threads (median of samples every 10 s), and the frame times outside a tap's own frames (a
tapped product is built and drawn in its frames; the rest are the frames nothing should
disturb). Goal: no growth beyond noise (memory within 10%, descriptors and threads within
2) and no frame over 50 ms outside a tap's own, anywhere in the run.

Each long frame outside a tap's own is told with what the run did just before it (a card
tapped, a visit wiped, an update applied, a full collection...). With ``--trace-memory``,
Python's own allocations are traced from the start window on (tracemalloc, which slows the
kiosk: its frame figures are then not the goal's) and the run also reports where they grew
by the end, which kinds of object the collector tracks grew, the resident memory grown by
mapping (the heap, anonymous, each library) and what glibc gave back to ``malloc_trim``.

    .venv/bin/python -m benchmarks.soak [--minutes 60] [--update-every 300] [--trace-memory] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import gc
import itertools
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil

from benchmarks._window import run_app, start_hq, virtual_screen, write_result
from benchmarks.frame_times import LONG_FRAME_MS, FrameLog, Tapper, big_catalog, in_thread, reprice
from hq import CatalogPublisher, announce
from kiosk_app.demo import free_port, stop_all
from kiosk_protocol import Role, issue_token
from nfc_reader import TagEmulator, encode_card
from testkit.keys import hq_signing_key
from testkit.mosquitto import Mosquitto

STORE, KIOSK = "madrid-centro", "kiosk-01"
CATALOG_PRODUCTS = 2_000
IDLE_TIMEOUT_S = 6.0
SAMPLE_EVERY_S = 10.0
WARM_UP_S = 60.0
MEMORY_NOISE, COUNT_NOISE = 0.10, 2


class Samples:
    """The kiosk process's memory, descriptors and threads, sampled into the window in force."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())
        self.window: str | None = None
        self.taken: dict[str, list[tuple[float, int, int]]] = {}
        self.descriptors: dict[str, collections.Counter[str]] = {}  # what they point at, last sampled

    def take(self) -> None:
        if self.window is not None:
            process = self._process
            self.taken.setdefault(self.window, []).append(
                (process.memory_info().rss / 2**20, process.num_fds(), process.num_threads()))
            self.descriptors[self.window] = open_descriptors()

    def report(self, window: str) -> dict[str, Any]:
        rows = self.taken.get(window, [])
        if not rows:
            return {}
        return {"rss_mb": round(statistics.median(r[0] for r in rows), 1),
                "fds": int(statistics.median(r[1] for r in rows)),
                "threads": int(statistics.median(r[2] for r in rows)), "samples": len(rows)}


class Moments:
    """What the run did when (visits, sign-ins, updates, the broker, full collections), to say
    what came just before each long frame outside a tap's own."""

    def __init__(self) -> None:
        self._log: list[tuple[float, str]] = []
        self.long_frames: list[dict[str, Any]] = []
        self.window: str | None = None
        self._gc_started = 0.0

    def mark(self, what: str, at: float | None = None) -> None:
        self._log.append((time.perf_counter() if at is None else at, what))

    def on_long_frame(self, began: float, ms: float, tap: bool) -> None:
        if not tap and self.window is not None:
            self.long_frames.append({"window": self.window, "ms": round(ms, 1), "after": self.before(began)})

    def before(self, at: float) -> str:
        earlier = [(moment, what) for moment, what in self._log[-50:] if moment <= at]
        if not earlier:
            return "nothing yet"
        moment, what = earlier[-1]
        return f"{what} {at - moment:.1f} s before"

    def on_gc(self, event: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if event == "start":
            self._gc_started = time.perf_counter()
        else:
            spent_ms = (time.perf_counter() - self._gc_started) * 1000
            self.mark(f"a full collection ({spent_ms:.0f} ms, {threading.current_thread().name})", self._gc_started)


class MemoryTrace:
    """Python's own allocations and the collector's objects by kind, at the start window and at the end."""

    SITES = 15

    def __init__(self, python_allocations: bool = True) -> None:
        self._python_allocations = python_allocations  # tracemalloc's own tables grow the heap: optional
        self._snapshots: list[tracemalloc.Snapshot] = []
        self._kinds: list[collections.Counter[str]] = []
        self._trimmed: list[tuple[float, float]] = []  # resident MB before and after malloc_trim
        self._mappings: list[collections.Counter[str]] = []

    def take(self) -> None:
        gc.collect()
        if self._python_allocations:
            if not tracemalloc.is_tracing():
                tracemalloc.start(10)
            self._snapshots.append(tracemalloc.take_snapshot())
        self._kinds.append(collections.Counter(type(thing).__qualname__ for thing in gc.get_objects()))
        process = psutil.Process()
        before = process.memory_info().rss
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # what glibc held of freed memory goes back
        self._trimmed.append((before / 2**20, process.memory_info().rss / 2**20))
        self._mappings.append(resident_by_mapping())

    def report(self) -> dict[str, Any]:
        if len(self._kinds) < 2:
            return {}
        mappings = self._mappings[-1] - self._mappings[0]
        native = {"objects_grown": dict((self._kinds[-1] - self._kinds[0]).most_common(self.SITES)),
                  "rss_mb_before_after_malloc_trim": [[round(mb, 1) for mb in pair] for pair in self._trimmed],
                  "resident_grown_kb_by_mapping": dict(mappings.most_common(self.SITES))}
        if not self._snapshots:
            return native
        first, last = self._snapshots[0], self._snapshots[-1]
        grown = [stat for stat in last.compare_to(first, "traceback") if stat.size_diff > 0][:self.SITES]
        return {"traced_mb": [round(sum(s.size for s in snap.statistics("filename")) / 2**20, 1)
                              for snap in (first, last)],
                "grew_at": [{"kb": round(stat.size_diff / 1024, 1), "blocks": stat.count_diff,
                             "where": [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback][-6:]}
                            for stat in grown], **native}


def measure(workdir: Path, minutes: float, update_every_s: float, trace: MemoryTrace | None = None) -> dict[str, Any]:
    """The run (on the screen already set up); its figures."""
    from kiosk_app import KioskConfig
    from kiosk_app.ui import KioskApp

    run_s = minutes * 60
    warm_up_s = min(WARM_UP_S, run_s / 10)
    window_s = min(300.0, run_s / 5)
    key, key_pem = hq_signing_key(workdir)
    (workdir / "broker").mkdir()
    broker = Mosquitto(workdir / "broker")
    broker.start()
    publisher = CatalogPublisher(workdir / "bundles", key)
    catalog_file = big_catalog(workdir / "hq-catalog", CATALOG_PRODUCTS)
    publisher.publish(catalog_file)
    shipped = shutil.copytree(workdir / "hq-catalog", workdir / "shipped") / catalog_file.name  # the kiosk's own
    hq, files_url = start_hq(workdir, broker.url, key_pem, workdir / "bundles")
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=shipped, reader=emulator.path, broker=broker.url,
                         data_dir=workdir / "kiosk", hq_public_key=key_pem, files_url=files_url,
                         idle_timeout_s=IDLE_TIMEOUT_S)
    app = KioskApp(config)
    frames, samples, tapper, moments = FrameLog(), Samples(), Tapper(emulator), Moments()
    frames.on_long_frame = moments.on_long_frame
    cards = itertools.cycle([encode_card(issue_token(key, f"shopper-{n:04d}", Role.SHOPPER, 4 * 3600))
                             for n in range(20)])
    counts = {"visits": 0, "sign_ins": 0, "updates": 0, "broker_restarts": 0}

    async def visit() -> None:
        if counts["visits"] % 2:
            welcome = app.sm.get_screen("welcome")
            moments.mark("a card tapped")
            await in_thread(lambda: emulator.tap(next(cards)))
            counts["sign_ins"] += await _within(lambda: app.sm.current == welcome.name, 10)
            moments.mark("welcome shown")
        await tapper.tap_until(lambda: False, timeout_s=2.5)
        counts["visits"] += 1
        moments.mark("the shopper walked away")
        await _within(lambda: app.sm.current == "attract", IDLE_TIMEOUT_S + 10)  # walked away: the visit wiped
        moments.mark("the visit wiped")

    async def update() -> None:
        before = app.runtime.kiosk.catalog
        envelope = await in_thread(lambda: publisher.publish(reprice(catalog_file, share=0.01, seed=counts["updates"])))
        await in_thread(lambda: announce(broker.url, envelope))
        moments.mark("an update announced")
        while app.runtime.kiosk.catalog is before:
            await visit()
        counts["updates"] += 1
        moments.mark("an update applied")

    async def restart_broker() -> None:
        await in_thread(broker.stop)
        moments.mark("the broker stopped")
        await _within(lambda: not app.runtime.link.connected, 30)
        await visit()  # taps while the broker is away wait in the outbox
        await in_thread(broker.start)
        moments.mark("the broker started")
        await _within(lambda: app.runtime.link.connected, 60)
        counts["broker_restarts"] += 1

    async def sample_all_along() -> None:
        while True:
            samples.take()
            moments.mark("a sample taken")
            await asyncio.sleep(SAMPLE_EVERY_S)

    async def drive() -> None:
        await _within(lambda: app.runtime.link.connected, 60)
        frames.start(app.sm.get_screen("product"))
        app.sm.get_screen("product").bind(sku=lambda *_: moments.mark("a product shown"))
        welcome = app.sm.get_screen("welcome")  # a card tap's own frames: the greeting, then the profile's cards
        frames.count_as_tap(welcome, "title_text", "profile_note")
        for cards_row in (welcome.ids.recent, welcome.ids.wishlist):
            frames.count_as_tap(cards_row, "children")
        gc.callbacks.append(moments.on_gc)
        sampler = asyncio.create_task(sample_all_along())
        started = time.monotonic()
        next_update, restarted = update_every_s, False

        def window_now(at: float) -> str | None:
            if warm_up_s <= at < warm_up_s + window_s:
                return "start"
            return "end" if at >= run_s - window_s else "middle" if at >= warm_up_s else None

        while (at := time.monotonic() - started) < run_s:
            window = window_now(at)
            if window != frames.phase:
                frames.enter(window)
                samples.window = moments.window = window
                samples.take()
                if trace is not None and window == "start":
                    trace.take()
            if at >= next_update:
                await update()
                next_update += update_every_s
            elif not restarted and at >= run_s / 2:
                await restart_broker()
                restarted = True
            else:
                await visit()
        sampler.cancel()
        frames.enter(None)
        if trace is not None:
            trace.take()
        frames.stop()
        gc.callbacks.remove(moments.on_gc)
        # The last visit's events may still be on their way to HQ: what never arrives stays counted.
        await _within(lambda: len(app.runtime.outbox) == 0, 60)
        counts["left_in_outbox"] = len(app.runtime.outbox)

    try:
        run_app(app, drive)
    finally:
        emulator.close()
        stop_all(hq)
        broker.stop()
    long_outside_taps = {window: sum(ms > LONG_FRAME_MS for ms in frames.frames.get(window, []))
                         for window in ("start", "middle", "end")}
    start, end = samples.report("start"), samples.report("end")
    return {
        "minutes": minutes, "window_s": window_s,
        "start": {**start, "frames": frames.report("start")}, "end": {**end, "frames": frames.report("end")},
        "rss_growth": round(end["rss_mb"] / start["rss_mb"] - 1, 3) if start and end else None,
        "fds_growth": end["fds"] - start["fds"] if start and end else None,
        "threads_growth": end["threads"] - start["threads"] if start and end else None,
        "fds_added": dict(samples.descriptors.get("end", collections.Counter())
                          - samples.descriptors.get("start", collections.Counter())),
        "long_frames_outside_taps": sum(long_outside_taps.values()),
        "long_frames_outside_taps_by_window": long_outside_taps,
        "long_frames_outside_taps_after": moments.long_frames,
        "middle": {**samples.report("middle"), "frames": frames.report("middle")},
        "taps": tapper.taps, **counts,
        **({"memory_trace": trace.report()} if trace is not None else {}),
    }


def open_descriptors() -> collections.Counter[str]:
    """What this process's descriptors point at: files by path, sockets, pipes... by kind."""
    found: collections.Counter[str] = collections.Counter()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used is gone already
            target = os.readlink(f"/proc/self/fd/{fd}")
            found[target.split(":", 1)[0] + ":" if ":[" in target or target.startswith("anon_inode:") else target] += 1
    return found


def resident_by_mapping() -> collections.Counter[str]:
    """This process's resident kB by what is mapped: a file's path, [heap], or anonymous memory."""
    resident: collections.Counter[str] = collections.Counter()
    name = "anonymous"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":") and "-" in fields[0]:  # a mapping's own line: range, perms, ..., path
            name = fields[5] if len(fields) > 5 else "anonymous"
        elif fields[0] == "Rss:":
            resident[name] += int(fields[1])
    return resident


async def _within(condition: Any, timeout_s: float) -> bool:
    """Wait until ``condition()`` on the app's loop; whether it came in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def verdicts(result: dict[str, Any]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    return [f"rss_growth               {result['rss_growth']:>8}  <= {MEMORY_NOISE}  "
            f"{verdict(result['rss_growth'] is not None and result['rss_growth'] <= MEMORY_NOISE)}",
            f"fds_growth               {result['fds_growth']:>8}  <= {COUNT_NOISE}     "
            f"{verdict(result['fds_growth'] is not None and result['fds_growth'] <= COUNT_NOISE)}",
            f"threads_growth           {result['threads_growth']:>8}  <= {COUNT_NOISE}     "
            f"{verdict(result['threads_growth'] is not None and result['threads_growth'] <= COUNT_NOISE)}",
            f"long_frames_outside_taps {result['long_frames_outside_taps']:>8}  == 0     "
            f"{verdict(result['long_frames_outside_taps'] == 0)}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--update-every", type=float, default=300.0, help="Seconds between catalog updates.")
    parser.add_argument("--trace-memory", action="store_true",
                        help="Also report where Python's allocations grew (slows the kiosk).")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/soak.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as folder, virtual_screen(Path(folder)):
        result = measure(Path(folder), args.minutes, args.update_every, MemoryTrace() if args.trace_memory else None)
    write_result(result, args.json)
    print("\n".join(verdicts(result)))


if __name__ == "__main__":
    main()
