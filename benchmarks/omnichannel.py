"""Web to kiosk: from a wishlist change sent to HQ's HTTP API (as the web shop would) until
the kiosk where the shopper is signed in has it, with a real Mosquitto, HQ's responder and
pusher on SQLite, and a card tap read over nfcpy's udp driver.

- ``api_to_kiosk_ms``: until the kiosk's runtime has applied the change to the visit;
- ``api_to_screen_ms``: until the first frame on screen (the real window under Xvfb,
  stamped after the buffer swap) whose wishlist button says so, the product in view.

Each change is a PUT or a DELETE of one product on the wishlist, in turn, spaced at random
so they do not keep step with the pusher's poll of the change log (every 50 ms).

    .venv/bin/python -m benchmarks.omnichannel [--changes 100] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._window import run_app, stamp_frames, summary, virtual_screen, write_result
from hq import ApiKeys, ApiServer, ProfilePusher, ProfileResponder, ProfileStore, create_app
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import ProfileChange, Role, card_verifier, issue_token, load_catalog
from nfc_reader import TagEmulator, encode_card, encode_product
from testkit.keys import hq_signing_key
from testkit.mosquitto import Mosquitto

SHOPPER = "shopper-bench"
SKU = "BOOT-CHELSEA-BLK"
KEY = "bench-key-0123456789abcdef"
TARGET_MS = 250.0
APPLY_TIMEOUT_S = 10.0


class Hq:
    """HQ's side: the profile responder, the pusher on its connection, the API on a socket."""

    def __init__(self, broker: str, db_url: str, verify: Any) -> None:
        self.store = ProfileStore(db_url)
        self.responder = ProfileResponder(broker, self.store, verify)
        self.responder.start()
        assert self.responder.subscribed.wait(10)
        self.pusher = ProfilePusher(self.store, self.responder)
        self.pusher.start()
        self.api = ApiServer(create_app(self.store, ApiKeys({"web": KEY}), responder=self.responder),
                             port=free_port())
        self.api.start()

    def wishlist(self, wanted: bool) -> None:
        """The web shop puts the product on the shopper's wishlist, or takes it off."""
        request = urllib.request.Request(f"{self.api.url}/v1/shoppers/{SHOPPER}/wishlist/{SKU}",
                                         method="PUT" if wanted else "DELETE", headers={"X-Api-Key": KEY})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self) -> None:
        self.api.stop()
        self.pusher.stop()
        self.responder.stop()
        self.store.close()


def config_for(workdir: Path, broker: str, emulator: TagEmulator, pem: Path) -> Any:
    from kiosk_app import KioskConfig

    return KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader=emulator.path,
                       broker=broker, data_dir=workdir, hq_public_key=pem, idle_timeout_s=3600)


def to_runtime(changes: int, workdir: Path, broker: str, hq: Hq, token: str, pem: Path) -> list[float]:
    """Each change from the API call until the kiosk's runtime has applied it, in ms."""
    from kiosk_app import KioskRuntime

    applied: dict[bool, float] = {}
    arrived = threading.Event()

    def took(change: ProfileChange) -> None:
        applied[change.kind.value == "wishlist_add"] = time.perf_counter()
        arrived.set()

    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    runtime = KioskRuntime(config_for(workdir / "kiosk-runtime", broker, emulator, pem), on_outcome=lambda o: None,
                           on_profile_change=took)
    runtime.start()
    rng = random.Random(7)
    latencies: list[float] = []
    try:
        while not runtime.link.connected:
            time.sleep(0.05)
        assert emulator.tap(encode_card(token))
        while runtime.state.visit.changes_seen is None:  # signed in, the profile in
            time.sleep(0.02)
        for number in range(changes):
            wanted = number % 2 == 0
            arrived.clear()
            sent = time.perf_counter()
            hq.wishlist(wanted)
            if arrived.wait(APPLY_TIMEOUT_S) and wanted in applied:
                latencies.append((applied.pop(wanted) - sent) * 1000)
            time.sleep(rng.uniform(0, 0.05))
    finally:
        runtime.stop()
        emulator.close()
    return latencies


def to_screen(changes: int, workdir: Path, broker: str, hq: Hq, token: str, pem: Path) -> list[float]:
    """Each change from the API call until the first frame whose wishlist button shows it, in ms."""
    from kiosk_app.ui import KioskApp  # before Kivy itself: it sets Kivy's environment

    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    app = KioskApp(config_for(workdir / "kiosk-window", broker, emulator, pem))
    shop_url = load_catalog(demo_catalog_path()).shop_url
    latencies: list[float] = []
    watching: dict[str, Any] = {"action": None, "at": None}

    def on_frame(at: float) -> None:
        if watching["action"] is not None and watching["at"] is None and \
                app.sm.get_screen("product").wishlist_action == watching["action"]:
            watching["at"] = at

    async def drive() -> None:
        from kivy.core.window import Window

        loop = asyncio.get_running_loop()
        while not app.runtime.link.connected:
            await asyncio.sleep(0.05)
        assert await loop.run_in_executor(None, emulator.tap, encode_card(token))
        while app.runtime.state.visit.changes_seen is None:
            await asyncio.sleep(0.02)
        app.shopper.answer_consent(True)
        assert await loop.run_in_executor(None, emulator.tap, encode_product(shop_url, SKU))
        while app.sm.get_screen("product").sku != SKU or app.sm.transition.is_active:
            await asyncio.sleep(0.02)
        stamp_frames(Window, on_frame)
        rng = random.Random(7)
        for _ in range(changes):
            wanted = app.sm.get_screen("product").wishlist_action == "add"
            watching["action"], watching["at"] = "remove" if wanted else "add", None
            sent = time.perf_counter()
            await loop.run_in_executor(None, hq.wishlist, wanted)
            deadline = time.monotonic() + APPLY_TIMEOUT_S
            while watching["at"] is None and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            if watching["at"] is not None:
                latencies.append((watching["at"] - sent) * 1000)
            await asyncio.sleep(rng.uniform(0, 0.05))

    try:
        run_app(app, drive)
    finally:
        emulator.close()
    return latencies


def measure(changes: int, workdir: Path) -> dict[str, Any]:
    broker = Mosquitto(workdir)
    broker.start()
    key, pem = hq_signing_key(workdir)
    hq = Hq(broker.url, f"sqlite:///{workdir / 'hq.sqlite'}", card_verifier(key.public_key()))
    token = issue_token(key, SHOPPER, Role.SHOPPER, 3600)
    try:
        runtime = to_runtime(changes, workdir, broker.url, hq, token, pem)
        with virtual_screen(workdir):
            screen = to_screen(changes, workdir, broker.url, hq, token, pem)
        stats = hq.pusher.stats
    finally:
        hq.stop()
        broker.stop()
    return {"changes": changes, "api_to_kiosk_ms": summary(runtime, TARGET_MS),
            "api_to_screen_ms": summary(screen, TARGET_MS),
            "pushed": stats.pushed, "not_echoed": stats.not_echoed, "push_failures": stats.failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100, help="wishlist changes through the API, each phase")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/omnichannel.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="omnichannel-"))
    result = measure(args.changes, workdir)
    write_result(result, args.json)


if __name__ == "__main__":
    main()
