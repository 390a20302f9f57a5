"""Omnichannel: a change made on one channel until the others have it, with a real Mosquitto,
HQ in process on SQLite (ingest, responder, pusher, webhook delivery, API and phone pages),
real kiosks and a card tap read over nfcpy's udp driver.

- ``api_to_kiosk_ms``: a wishlist PUT or DELETE through HQ's API (as the web shop sends it)
  until the kiosk where the shopper is signed in has applied it to the visit;
- ``api_to_screen_ms``: the same until the first frame on screen (the real window under
  Xvfb, stamped after the buffer swap) whose wishlist button says so, the product in view;
- ``phone_to_kiosk_ms``: a tap on the wishlist button of the phone's visit page (headless
  Chromium, opened from the kiosk's hand-off link for the signed-in, consenting shopper)
  until that first frame on the kiosk's window;
- ``kiosk_to_feed_ms`` and ``webhook_ms``: a product tap at another kiosk (stamped as its
  runtime handles the read, then through its outbox and link into HQ's ingest) until the
  change is read from ``/v1/changes/stream`` (httpx), and until a Standard Webhooks receiver
  (``testkit.webhooks``, signature checked) takes it;
- ``lost`` and ``duplicated``: taps made while the receiver is down (``--receiver-down-s``)
  and HQ's services stop and start again on the same database halfway, against those the
  feed (resumed with Last-Event-ID) and the receiver got, both added up.

Changes are spaced at random so they do not keep step with the polls of the change log.

    .venv/bin/python -m benchmarks.omnichannel [--changes 100] [--clicks 50] [--taps 100]
        [--receiver-down-s 30] [--catch-up-s 180] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._omni_feed import FeedFollower, TappingKiosk, receiving, tap_latencies, through_outages
from benchmarks._omni_hq import Hq
from benchmarks._omni_phone import phone_clicks
from benchmarks._window import run_app, stamp_frames, summary, virtual_screen, write_result
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import ProfileChange, Role, card_verifier, issue_token, load_catalog
from nfc_reader import TagEmulator, encode_card, encode_product
from testkit.keys import hq_signing_key
from testkit.mosquitto import Mosquitto
from testkit.webhooks import WebhookReceiver

SHOPPER = "shopper-bench"
SKU = "BOOT-CHELSEA-BLK"
TARGET_MS = 250.0
PHONE_TARGET_MS = 1000.0
APPLY_TIMEOUT_S = 10.0


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
            hq.wishlist(SHOPPER, SKU, wanted)
            if arrived.wait(APPLY_TIMEOUT_S) and wanted in applied:
                latencies.append((applied.pop(wanted) - sent) * 1000)
            time.sleep(rng.uniform(0, 0.05))
    finally:
        runtime.stop()
        emulator.close()
    return latencies


def to_screen(changes: int, clicks: int, workdir: Path, broker: str, hq: Hq, token: str,
              pem: Path) -> tuple[list[float], list[float]]:
    """Each change, from the API call and then from the tap on the phone, until the first frame
    whose wishlist button shows it, in ms."""
    from kiosk_app.ui import KioskApp  # before Kivy itself: it sets Kivy's environment

    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    app = KioskApp(config_for(workdir / "kiosk-window", broker, emulator, pem))
    shop_url = load_catalog(demo_catalog_path()).shop_url
    latencies: list[float] = []
    from_phone: list[float] = []
    watching: dict[str, Any] = {"action": None, "at": None}

    def watch(action: str) -> None:
        watching["action"], watching["at"] = action, None

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
            watch("remove" if wanted else "add")
            sent = time.perf_counter()
            await loop.run_in_executor(None, hq.wishlist, SHOPPER, SKU, wanted)
            deadline = time.monotonic() + APPLY_TIMEOUT_S
            while watching["at"] is None and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            if watching["at"] is not None:
                latencies.append((watching["at"] - sent) * 1000)
            await asyncio.sleep(rng.uniform(0, 0.05))
        links: list[str] = []
        held = app.runtime.handoff_link(links.append)
        while held is None and not links:
            await asyncio.sleep(0.02)
        with ThreadPoolExecutor(1, thread_name_prefix="phone") as phone:
            from_phone.extend(await loop.run_in_executor(
                phone, phone_clicks, held or links[0], SKU, clicks, watch, lambda: watching["at"],
                lambda: app.sm.get_screen("product").wishlist_action, APPLY_TIMEOUT_S))

    try:
        run_app(app, drive)
    finally:
        emulator.close()
    return latencies, from_phone


def measure(changes: int, clicks: int, taps: int, down_s: float, catch_up_s: float,
            workdir: Path) -> dict[str, Any]:
    broker = Mosquitto(workdir)
    broker.start()
    key, pem = hq_signing_key(workdir)
    hq = Hq(broker.url, f"sqlite:///{workdir / 'hq.sqlite'}", card_verifier(key.public_key()), workdir)
    token = issue_token(key, SHOPPER, Role.SHOPPER, 3600)
    result: dict[str, Any] = {"changes": changes, "phone_clicks": clicks, "kiosk_taps": taps}
    try:
        runtime = to_runtime(changes, workdir, broker.url, hq, token, pem)
        with virtual_screen(workdir):
            screen, phone = to_screen(changes, clicks, workdir, broker.url, hq, token, pem)
        stats = hq.pusher.stats
        result.update({"api_to_kiosk_ms": summary(runtime, TARGET_MS), "api_to_screen_ms": summary(screen, TARGET_MS),
                       "phone_to_kiosk_ms": summary(phone, PHONE_TARGET_MS), "pushed": stats.pushed,
                       "not_echoed": stats.not_echoed, "push_failures": stats.failures})
        result.update(feed_and_webhooks(hq, workdir, broker.url, pem, token, taps, down_s, catch_up_s))
    finally:
        hq.stop()
        broker.stop()
    return result


def feed_and_webhooks(hq: Hq, workdir: Path, broker: str, pem: Path, token: str, taps: int, down_s: float,
                      catch_up_s: float) -> dict[str, Any]:
    """Kiosk taps to the change stream and the webhook receiver; then what got lost across outages."""
    port = free_port()
    receiver = WebhookReceiver(hq.add_webhook(f"http://127.0.0.1:{port}/hooks"), port).start()
    hook = receiving(receiver)
    after = hq.store.changes.latest() or 0
    feed = FeedFollower(hq.url, after)
    kiosk = TappingKiosk(workdir, broker, pem, hq, token, SHOPPER)
    try:
        assert feed.ready.wait(10), "the change stream did not open"
        to_feed, to_hook = tap_latencies(kiosk, feed, hook, after, taps)
        outages = through_outages(hq, kiosk, feed, hook, receiver, down_s, catch_up_s)
    finally:
        kiosk.stop()
        feed.stop()
        receiver.stop()
    return {"kiosk_to_feed_ms": summary(to_feed, TARGET_MS), "webhook_ms": summary(to_hook, TARGET_MS),
            "lost": outages["lost_feed"] + outages["lost_webhook"],
            "duplicated": outages["duplicated_feed"] + outages["duplicated_webhook"], "outages": outages}


TARGETS = (("api_to_kiosk_ms", TARGET_MS), ("kiosk_to_feed_ms", TARGET_MS), ("webhook_ms", TARGET_MS),
           ("phone_to_kiosk_ms", PHONE_TARGET_MS))


def verdicts(result: dict[str, Any]) -> list[str]:
    """Each figure beside its target, PASS or MISS."""
    lines = [f"{'figure':<20} {'p50':>9} {'p99':>9} {'count':>6}  target"]
    for name, target in (*TARGETS, ("api_to_screen_ms", None)):
        figures = result[name]
        p99 = figures.get("p99_ms")
        verdict = "" if target is None else "PASS" if p99 is not None and p99 <= target else "MISS"
        lines.append(f"{name:<20} {figures.get('p50_ms', '-'):>9} {p99 if p99 is not None else '-':>9} "
                     f"{figures['count']:>6}  " + (f"p99 <= {target:g} ms  {verdict}" if target else "(no target)"))
    lines.append(f"{'lost':<20} {result['lost']:>9} {'':>9} {result['outages']['made']:>6}  "
                 f"0  {'PASS' if result['lost'] == 0 else 'MISS'}  (duplicated {result['duplicated']})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=100, help="wishlist changes through the API, each phase")
    parser.add_argument("--clicks", type=int, default=50, help="wishlist taps on the phone")
    parser.add_argument("--taps", type=int, default=100, help="product taps at the kiosk, timed to feed and webhook")
    parser.add_argument("--receiver-down-s", type=float, default=30.0,
                        help="seconds the webhook receiver is down (HQ restarts halfway through)")
    parser.add_argument("--catch-up-s", type=float, default=180.0,
                        help="seconds to wait afterwards for the feed and webhook to deliver every change")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/omnichannel.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="omnichannel-"))
    result = measure(args.changes, args.clicks, args.taps, args.receiver_down_s, args.catch_up_s, workdir)
    write_result(result, args.json)
    print("\n".join(verdicts(result)))


if __name__ == "__main__":
    main()
