"""Frame times of the real kiosk app under Xvfb while it syncs and updates its catalog.

Every frame's duration is the time between two successive frames (a callback Kivy's
clock runs once per frame), per phase, in one run; the frames that build and draw a
tapped product are reported apart ("tap frames"), the rest are the frames the sync or
the update may disturb:

- idle: nothing to do;
- taps: a shopper tapping products, nothing else going on;
- sync: the outbox drains a backlog of events (put there through the kiosk while the
  broker was down) to a real Mosquitto and HQ's ingest, taps going on;
- catalog_update: HQ announces a large signed catalog; the kiosk downloads, checks and
  validates it, builds suggestions for it and switches to it, taps going on;
- catalog_delta: HQ changes 1% of that catalog's prices; the kiosk rebuilds the new
  version from a delta and switches from one large catalog to the other, as a fleet
  kiosk does every day.

HQ's ingest and file server run in their own processes, as on HQ's machines. Full
garbage collections (which stop every thread) are counted per phase, with the thread
that ran them.

    .venv/bin/python -m benchmarks.frame_times [--events 20000 --products 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend_sync import Outbox
from benchmarks._window import run_app, start_hq, summary, virtual_screen, write_result
from hq import CatalogPublisher, announce
from kiosk_app.demo import demo_catalog_path, free_port, stop_all
from kiosk_app.kiosk import Kiosk
from kiosk_protocol import load_catalog
from nfc_reader import TagEmulator, TagKind, TagRead, encode_product
from testkit.keys import hq_signing_key
from testkit.mosquitto import Mosquitto

STORE, KIOSK = "madrid-centro", "kiosk-01"
LONG_FRAME_MS = 50.0
TAP_HOLD_S = 0.05
BETWEEN_TAPS_S = 0.5
AFTER_SWITCH_S = 2.0
PHASE_TIMEOUT_S = 300.0


def big_catalog(directory: Path, products: int, seed: int = 11) -> Path:
    """The demo catalog (so taps still find their products) grown to ``products`` with copies of its products."""
    demo = json.loads(demo_catalog_path().read_text())
    (directory / "images").mkdir(parents=True, exist_ok=True)
    for template in demo["products"]:
        (directory / template["image"]).write_bytes((demo_catalog_path().parent / template["image"]).read_bytes())
    rng = random.Random(seed)
    stores = [store["id"] for store in demo["stores"]]
    grown = [
        {**template, "sku": f"SKU-{n:06d}", "price": round(rng.uniform(10, 200), 2),
         "stock": {store: {size: rng.randint(0, 9) for size in template["sizes"]} for store in stores}}
        for n, template in ((n, demo["products"][n % len(demo["products"])])
                            for n in range(products - len(demo["products"])))
    ]
    path = directory / "catalog.json"
    path.write_text(json.dumps({**demo, "products": demo["products"] + grown}, ensure_ascii=False))
    return path


def reprice(catalog_file: Path, share: float = 0.01, seed: int = 12) -> Path:
    """The same catalog with a new price on ``share`` of its products (in place)."""
    data = json.loads(catalog_file.read_text())
    rng = random.Random(seed)
    for product in rng.sample(data["products"], max(1, int(len(data["products"]) * share))):
        product["price"] = round(product["price"] * 0.8, 2)
    catalog_file.write_text(json.dumps(data, ensure_ascii=False))
    return catalog_file


# A product shown by a tap is built in one frame's events and drawn at its end: the two
# frame intervals around it (and any fade from another screen) carry the tap's own work.
FRAMES_PER_TAP = 2


class FrameLog:
    """Each frame's duration under the phase it fell in (frames that show a tapped product
    apart), and the full collections per phase."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.frames: dict[str, list[float]] = {}
        self.tap_frames: dict[str, list[float]] = {}
        # Long frames: (seconds into the phase, ms, a tap's frame?), to line them up with what ran.
        self.long_frames: dict[str, list[tuple[float, float, bool]]] = {}
        self._tap_frames_due = 0
        self._phase_started = 0.0
        self._screens: Any = None
        self.collections: dict[str, list[tuple[str, float]]] = {}
        self._last: float | None = None
        self._gc_started = 0.0
        self._ticking: Any = None
        # Told of each long frame: when it began (perf_counter), its ms, whether a tap's.
        self.on_long_frame: Callable[[float, float, bool], None] | None = None

    def start(self, product_screen: Any) -> None:
        from kivy.clock import Clock

        self._ticking = Clock.schedule_interval(self._on_frame, 0)
        product_screen.bind(sku=self._on_product_shown)
        self._screens = product_screen.manager
        gc.callbacks.append(self._on_gc)

    def count_as_tap(self, widget: Any, *properties: str) -> None:
        """Frames drawn after any of ``widget``'s ``properties`` change are a tap's own too (what a card tap shows)."""
        widget.bind(**{name: self._on_product_shown for name in properties})

    def _on_product_shown(self, *_args: Any) -> None:
        self._tap_frames_due = FRAMES_PER_TAP

    def stop(self) -> None:
        self._ticking.cancel()
        gc.callbacks.remove(self._on_gc)

    def enter(self, phase: str | None) -> None:
        self.phase, self._last = phase, None  # a frame that spans two phases belongs to neither
        self._phase_started = time.perf_counter()

    def _on_frame(self, _dt: float) -> None:
        now = time.perf_counter()
        if self.phase is not None and self._last is not None:
            # The fade from another screen to the product is the tap's too.
            if self._screens is not None and self._screens.transition.is_active:
                self._tap_frames_due = max(self._tap_frames_due, 1)
            into = self.tap_frames if self._tap_frames_due else self.frames
            spent_ms = (now - self._last) * 1000
            into.setdefault(self.phase, []).append(spent_ms)
            if spent_ms > LONG_FRAME_MS:
                self.long_frames.setdefault(self.phase, []).append(
                    (round(self._last - self._phase_started, 2), round(spent_ms, 1), bool(self._tap_frames_due)))
                if self.on_long_frame is not None:
                    self.on_long_frame(self._last, spent_ms, bool(self._tap_frames_due))
        self._tap_frames_due = max(0, self._tap_frames_due - 1)
        self._last = now

    def _on_gc(self, event: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if event == "start":
            self._gc_started = time.perf_counter()
        elif self.phase is not None:
            spent = (time.perf_counter() - self._gc_started) * 1000
            self.collections.setdefault(self.phase, []).append((threading.current_thread().name, spent))

    def report(self, phase: str) -> dict[str, Any]:
        collections = self.collections.get(phase, [])
        by_thread: dict[str, int] = {}
        for thread, _ in collections:
            by_thread[thread] = by_thread.get(thread, 0) + 1
        return {**summary(self.frames.get(phase, []), LONG_FRAME_MS),
                "tap_frames": summary(self.tap_frames.get(phase, []), LONG_FRAME_MS),
                "full_collections": len(collections),
                "full_collection_max_ms": round(max((ms for _, ms in collections), default=0.0), 1),
                "full_collections_by_thread": by_thread, "long_frames_at_s": self.long_frames.get(phase, [])}


class Tapper:
    """A shopper tapping the demo's products one after another, from a worker thread."""

    def __init__(self, emulator: TagEmulator) -> None:
        self.emulator = emulator
        self.catalog = load_catalog(demo_catalog_path())
        self.taps = 0

    async def tap_until(self, done: Callable[[], bool], timeout_s: float = PHASE_TIMEOUT_S) -> float:
        """Tap until ``done()``; returns the seconds it took."""
        loop, started = asyncio.get_running_loop(), time.perf_counter()
        while not done() and time.perf_counter() - started < timeout_s:
            product = self.catalog.products[self.taps % len(self.catalog.products)]
            await loop.run_in_executor(None, self.emulator.tap, encode_product(self.catalog.shop_url, product.sku),
                                       TAP_HOLD_S)
            self.taps += 1
            await asyncio.sleep(BETWEEN_TAPS_S)
        return time.perf_counter() - started


def fill_outbox(outbox: Outbox, events: int) -> None:
    """Product views recorded through a Kiosk on the kiosk's own outbox, as taps while offline would be."""
    catalog = load_catalog(demo_catalog_path())
    kiosk = Kiosk(catalog, outbox, STORE, KIOSK, verify_card=lambda token: token)
    for n in range(events):
        kiosk.handle(TagRead(TagKind.PRODUCT, uid="backlog", sku=catalog.products[n % len(catalog.products)].sku))


async def in_thread(work: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, work)


def measure(workdir: Path, events: int, products: int, idle_s: float) -> dict[str, Any]:
    from kiosk_app import KioskConfig
    from kiosk_app.ui import KioskApp

    key, key_pem = hq_signing_key(workdir)
    (workdir / "broker").mkdir()
    broker = Mosquitto(workdir / "broker")
    broker.start()
    print(f"publishing a {products:,}-product catalog", flush=True)
    publisher = CatalogPublisher(workdir / "bundles", key)
    envelope = publisher.publish(big_catalog(workdir / "hq-catalog", products))
    delta_envelope = publisher.publish(reprice(workdir / "hq-catalog" / "catalog.json"))
    hq, files_url = start_hq(workdir, broker.url, key_pem, workdir / "bundles")
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog_path(), reader=emulator.path,
                         broker=broker.url, data_dir=workdir / "kiosk", hq_public_key=key_pem,
                         files_url=files_url)
    app = KioskApp(config)
    log, tapper = FrameLog(), Tapper(emulator)
    facts: dict[str, Any] = {"events": events, "products": products}

    async def drive() -> None:
        runtime = app.runtime
        while not runtime.link.connected:
            await asyncio.sleep(0.05)
        log.start(app.sm.get_screen("product"))
        print("phase idle", flush=True)
        log.enter("idle")
        await asyncio.sleep(idle_s)
        print("phase taps", flush=True)
        log.enter("taps")
        await tapper.tap_until(lambda: False, timeout_s=idle_s)

        log.enter(None)  # the broker goes away and the backlog builds up: not measured
        await in_thread(broker.stop)
        while runtime.link.connected:
            await asyncio.sleep(0.05)
        await in_thread(lambda: fill_outbox(runtime.outbox, events))
        facts["backlog"] = len(runtime.outbox)
        await in_thread(broker.start)
        print(f"phase sync: {facts['backlog']:,} events", flush=True)
        log.enter("sync")
        facts["sync_s"] = round(await tapper.tap_until(lambda: len(runtime.outbox) == 0), 1)
        facts["left_in_outbox"] = len(runtime.outbox)

        print("phase catalog_update", flush=True)
        before = runtime.kiosk.catalog
        log.enter("catalog_update")
        await in_thread(lambda: announce(broker.url, envelope))
        facts["catalog_update_s"] = round(await tapper.tap_until(lambda: runtime.kiosk.catalog is not before), 1)
        facts["products_after_update"] = len(runtime.kiosk.catalog.products)
        await tapper.tap_until(lambda: False, timeout_s=AFTER_SWITCH_S)

        print("phase catalog_delta", flush=True)
        before = runtime.kiosk.catalog
        log.enter("catalog_delta")
        await in_thread(lambda: announce(broker.url, delta_envelope))
        facts["catalog_delta_s"] = round(await tapper.tap_until(lambda: runtime.kiosk.catalog is not before), 1)
        await tapper.tap_until(lambda: False, timeout_s=AFTER_SWITCH_S)
        log.enter(None)
        log.stop()

    try:
        run_app(app, drive)
    finally:
        emulator.close()
        stop_all(hq)
        broker.stop()
    phases = {phase: log.report(phase) for phase in ("idle", "taps", "sync", "catalog_update", "catalog_delta")}
    return {"phases": phases, **facts, "taps": tapper.taps}


def print_table(phases: dict[str, dict[str, Any]]) -> None:
    over = f"over_{LONG_FRAME_MS:g}_ms"
    print(f"{'phase':<16}{'frames':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}{'>50ms':>7}{'full GCs':>10}"
          f"{'tap frames':>12}{'max':>9}{'>50ms':>7}")
    for name, row in phases.items():
        taps = row["tap_frames"]
        print(f"{name:<16}{row.get('count', 0):>8}{row.get('p50_ms', 0):>8}{row.get('p95_ms', 0):>8}"
              f"{row.get('p99_ms', 0):>8}{row.get('max_ms', 0):>9}{row.get(over, 0):>7}{row['full_collections']:>10}"
              f"{taps.get('count', 0):>12}{taps.get('max_ms', 0):>9}{taps.get(over, 0):>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="backlog in the outbox")
    parser.add_argument("--products", type=int, default=50_000, help="products in the catalog update")
    parser.add_argument("--idle-s", type=float, default=10.0, help="length of the idle and taps phases")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/frame_times.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="frame-times-"))
    with virtual_screen(workdir):
        result = measure(workdir, args.events, args.products, args.idle_s)
    print_table(result["phases"])
    write_result(result, args.json)


if __name__ == "__main__":
    main()
