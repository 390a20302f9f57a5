"""Tap to screen on the real kiosk app: from an emulated tag being presented to the reader
until the first frame that shows the product's name (with its suggestions), under Xvfb,
with a real Mosquitto and nfcpy's udp driver.

    .venv/bin/python -m benchmarks.tap_to_screen [--taps 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import load_catalog
from kiosk_app.demo import demo_catalog_path, free_port
from nfc_reader import TagEmulator, encode_product, public_key_to_pem
from tests.conftest import Mosquitto


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        return xvfb, f":{pipe.readline().strip()}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(taps: int, workdir: Path) -> dict[str, Any]:
    from kivy.core.window import Window

    from kiosk_app import KioskConfig
    from kiosk_app.ui import KioskApp

    broker = Mosquitto(workdir)
    broker.start()
    key_pem = workdir / "hq_public_key.pem"
    key_pem.write_bytes(public_key_to_pem(Ed25519PrivateKey.generate().public_key()))
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    catalog = load_catalog(demo_catalog_path())
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader=emulator.path,
                         broker=broker.url, data_dir=workdir / "kiosk", hq_public_key=key_pem)
    app = KioskApp(config)
    latencies: list[float] = []
    flips: list[float] = []

    async def drive() -> None:
        try:
            while app.root is None or not app.runtime.link.connected:
                await asyncio.sleep(0.05)
            Window.bind(on_flip=lambda *_: flips.append(time.perf_counter()))
            name_label = app.sm.get_screen("product").ids.product_name
            changed: list[float] = []
            name_label.bind(text=lambda *_: changed.append(time.perf_counter()))
            loop = asyncio.get_running_loop()
            for number in range(taps + 5):  # the first five warm the caches and are not counted
                product = catalog.products[number % len(catalog.products)]
                changed.clear()
                presented = time.perf_counter()
                tapped = loop.run_in_executor(None, emulator.tap, encode_product(catalog.shop_url, product.sku), 0.05)
                deadline = presented + 10
                while not (changed and name_label.text == product.name.get("es")) and time.perf_counter() < deadline:
                    await asyncio.sleep(0.001)
                shown_at = changed[-1] if changed else float("inf")
                await asyncio.sleep(0.1)  # let the frame that carries it be drawn
                first_frame = next((flip for flip in flips if flip >= shown_at), float("inf"))
                if number >= 5:
                    latencies.append((first_frame - presented) * 1000)
                await tapped
        finally:
            app.stop()

    async def both() -> None:
        await asyncio.gather(app.async_run("asyncio"), drive())

    try:
        asyncio.run(both())
    finally:
        emulator.close()
        broker.stop()
    return {"taps": len(latencies), "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1), "p99_ms": round(percentile(latencies, 0.99), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taps", type=int, default=120)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/tap_to_screen.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tap-to-screen-"))
    xvfb, display = start_xvfb()
    os.environ.update(DISPLAY=display, KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(workdir / "kivy"))
    try:
        result = measure(args.taps, workdir)
    finally:
        xvfb.terminate()
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
