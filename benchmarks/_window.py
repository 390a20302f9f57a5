"""What the window benchmarks share: a virtual screen, a kiosk set up against a real broker,
the app run on asyncio beside a driver, frames stamped once they are on screen, and percentiles."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiosk_app.demo import free_port, spawn_kiosk_command
from testkit.xvfb import virtual_display


@contextmanager
def virtual_screen(workdir: Path) -> Iterator[None]:
    """Kivy draws on its own Xvfb, with its settings and logs kept in ``workdir``."""
    # PYTHON: Kivy neither logs to the console nor swallows stderr, so a failure shows its traceback.
    os.environ.update(KIVY_NO_ARGS="1", KIVY_LOG_MODE="PYTHON", KIVY_HOME=str(workdir / "kivy"))
    logging.getLogger("kivy").setLevel(logging.ERROR)  # not its notes on missing clipboard tools
    with virtual_display():
        yield


def start_hq(workdir: Path, broker_url: str, key_pem: Path, bundles: Path) -> tuple[list[subprocess.Popen[str]], str]:
    """HQ's ingest (answering profile requests) and its file server for ``bundles``, each in a
    process of its own as on HQ's machines; the processes and the file server's URL."""
    files_port = free_port()
    return [spawn_kiosk_command(["hq", "serve", "--broker", broker_url, "--db", f"sqlite:///{workdir / 'hq.sqlite'}",
                                 "--hq-key", str(key_pem)], ready="HQ ingest ready"),
            spawn_kiosk_command(["hq", "files", "--dir", str(bundles), "--port", str(files_port)],
                                ready="HQ files ready")], f"http://127.0.0.1:{files_port}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(values_ms: list[float], over_ms: float) -> dict[str, Any]:
    """Count, p50/p95/p99/max and how many exceed ``over_ms``, rounded for printing."""
    if not values_ms:
        return {"count": 0}
    return {"count": len(values_ms), "p50_ms": round(percentile(values_ms, 0.50), 1),
            "p95_ms": round(percentile(values_ms, 0.95), 1), "p99_ms": round(percentile(values_ms, 0.99), 1),
            "max_ms": round(max(values_ms), 1), f"over_{over_ms:g}_ms": sum(v > over_ms for v in values_ms)}


def stamp_frames(window: Any, on_frame: Callable[[float], None]) -> None:
    """Call ``on_frame(perf_counter)`` after each buffer swap, i.e. once the frame is on screen.

    Handlers bound to ``on_flip`` run before the swap, which under software GL is where a
    frame is rasterised, so they would stamp it early.
    """
    swap = window.flip

    def flip_and_stamp() -> None:
        swap()
        on_frame(time.perf_counter())

    window.flip = flip_and_stamp


def run_app(app: Any, drive: Callable[[], Awaitable[None]]) -> None:
    """Run the Kivy ``app`` on asyncio with ``drive`` beside it, once the window is built; stop it after."""

    async def drive_then_stop() -> None:
        try:
            while app.root is None:
                await asyncio.sleep(0.05)
            await drive()
        finally:
            app.stop()

    async def both() -> None:
        await asyncio.gather(app.async_run("asyncio"), drive_then_stop())

    asyncio.run(both())


def write_result(result: dict[str, Any], path: Path) -> None:
    """Print the figures as JSON and keep them in ``path``."""
    text = json.dumps(result, indent=2)
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
