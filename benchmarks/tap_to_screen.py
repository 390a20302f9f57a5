"""Tap to screen on the real kiosk app: from an emulated tag being presented to the reader
until the first frame on screen that shows the product's name with its suggestions, under
Xvfb, with a real Mosquitto and nfcpy's udp driver.

Two kinds of taps, as shoppers make them:

- product to product: the next tap of a visit, the product screen already in view;
- from the attract screen: the first tap of a visit (``first frame``: the first frame the
  product is on screen at all, ``settled``: the first with no screen transition under
  way; a tap shows its product without a fade, so the two should agree).

A frame counts once the window's buffers have been swapped (under software GL that is
where it is drawn), and only if the product screen holds this product's name and its
suggestion cards. Nothing polls the app's loop while a tap is under way.

    .venv/bin/python -m benchmarks.tap_to_screen [--taps 120] [--attract-taps 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._window import run_app, stamp_frames, summary, virtual_screen, write_result
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import Product, load_catalog
from nfc_reader import TagEmulator, encode_product
from testkit.keys import hq_signing_key
from testkit.mosquitto import Mosquitto

WARM_UP_TAPS = 5
TAP_HOLD_S = 0.05
TARGET_MS = 100.0
SHOW_TIMEOUT_S = 10.0


class ProductFrames:
    """Watches the frames on screen for the product a tap should bring up."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.product: Product | None = None
        self.first_frame: float | None = None
        self.settled_frame: float | None = None
        self.settled = asyncio.Event()

    def expect(self, product: Product) -> None:
        self.product, self.first_frame, self.settled_frame = product, None, None
        self.settled.clear()

    def on_frame(self, at: float) -> None:
        if self.product is None or self.settled_frame is not None or not self._shows_product(self.product):
            return
        if self.first_frame is None:
            self.first_frame = at
        if not self.app.sm.transition.is_active:
            self.settled_frame = at
            self.settled.set()

    def _shows_product(self, product: Product) -> bool:
        screen = self.app.sm.get_screen("product")
        return (self.app.sm.current == "product" and screen.sku == product.sku
                and screen.ids.product_name.text == product.name.get(self.app.language)
                and screen.has_suggestions and bool(screen.ids.suggestions.children))


async def back_to_attract(app: Any) -> None:
    """As after a visit: the attract screen in view, its fade over."""
    app.go_to_attract()
    while app.sm.current != "attract" or app.sm.transition.is_active:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # a few idle frames, as between two shoppers


async def one_tap(emulator: TagEmulator, frames: ProductFrames, product: Product,
                  shop_url: str) -> tuple[float, float] | None:
    """(first frame, settled frame) after the tag was presented, in ms; None if it never showed."""
    frames.expect(product)
    loop = asyncio.get_running_loop()
    tapped = loop.run_in_executor(None, emulator.tap, encode_product(shop_url, product.sku), TAP_HOLD_S)
    with contextlib.suppress(TimeoutError):  # counted as never shown
        await asyncio.wait_for(frames.settled.wait(), SHOW_TIMEOUT_S)
    await tapped
    timing = emulator.last_tap
    if timing is None or frames.first_frame is None or frames.settled_frame is None:
        return None
    return (frames.first_frame - timing.presented_at) * 1000, (frames.settled_frame - timing.presented_at) * 1000


def measure(taps: int, attract_taps: int, workdir: Path) -> dict[str, Any]:
    from kiosk_app import KioskConfig
    from kiosk_app.ui import KioskApp  # before Kivy itself: it sets Kivy's environment

    broker = Mosquitto(workdir)
    broker.start()
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    catalog = load_catalog(demo_catalog_path())
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader=emulator.path,
                         broker=broker.url, data_dir=workdir / "kiosk", hq_public_key=hq_signing_key(workdir)[1])
    app = KioskApp(config)
    next_to_next: list[float] = []
    from_attract: dict[str, list[float]] = {"first_frame": [], "settled": []}
    missed = 0

    async def drive() -> None:
        nonlocal missed
        while not app.runtime.link.connected:
            await asyncio.sleep(0.05)
        from kivy.core.window import Window

        frames = ProductFrames(app)
        stamp_frames(Window, frames.on_frame)
        products = catalog.products
        for number in range(WARM_UP_TAPS + taps + attract_taps):
            from_attract_screen = number >= WARM_UP_TAPS + taps
            if from_attract_screen:
                await back_to_attract(app)
            shown = await one_tap(emulator, frames, products[number % len(products)], catalog.shop_url)
            if number < WARM_UP_TAPS:
                continue  # they warm the caches
            if shown is None:
                missed += 1
            elif from_attract_screen:
                from_attract["first_frame"].append(shown[0])
                from_attract["settled"].append(shown[1])
            else:
                next_to_next.append(shown[0])

    try:
        run_app(app, drive)
    finally:
        emulator.close()
        broker.stop()
    product_to_product = summary(next_to_next, TARGET_MS)
    return {"taps": product_to_product.get("count", 0), **{k: v for k, v in product_to_product.items() if k != "count"},
            "from_attract_first_frame": summary(from_attract["first_frame"], TARGET_MS),
            "from_attract_settled": summary(from_attract["settled"], TARGET_MS), "never_shown": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--taps", type=int, default=120, help="product-to-product taps")
    parser.add_argument("--attract-taps", type=int, default=40, help="taps from the attract screen")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/tap_to_screen.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tap-to-screen-"))
    with virtual_screen(workdir):
        result = measure(args.taps, args.attract_taps, workdir)
    write_result(result, args.json)


if __name__ == "__main__":
    main()
