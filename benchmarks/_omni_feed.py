"""Kiosk taps to HQ's change feed and webhooks: a follower of ``/v1/changes/stream`` that
resumes with Last-Event-ID, a signed-in kiosk whose product taps go through its outbox and
link into HQ's ingest, and the run that counts what got lost across an HQ restart and a
webhook receiver that was down."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks._omni_hq import KEY, Hq
from kiosk_app import KioskConfig, KioskRuntime, OutcomeKind
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import ConsentStatus, load_catalog
from nfc_reader import TagKind, TagRead
from testkit.webhooks import Answer, Attempt, WebhookReceiver

WAIT_S = 10.0


@dataclass
class Arrivals:
    """Changes as they arrived, by cursor: when each first came, and how many times."""

    first: dict[int, float] = field(default_factory=dict)
    times: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def took(self, change: dict[str, Any], at: float) -> None:
        if change.get("kind") != "product_view" or not str(change.get("channel", "")).startswith("kiosk:"):
            return  # only the kiosk taps this run counts
        cursor = int(change["cursor"])
        with self.lock:
            self.first.setdefault(cursor, at)
            self.times[cursor] = self.times.get(cursor, 0) + 1

    def after(self, cursor: int) -> dict[int, float]:
        with self.lock:
            return {c: at for c, at in self.first.items() if c > cursor}

    def duplicated(self, cursor: int) -> int:
        with self.lock:
            return sum(n - 1 for c, n in self.times.items() if c > cursor)


class FeedFollower:
    """Reads the change stream in a thread, reconnecting with Last-Event-ID whenever it ends."""

    def __init__(self, url: str, after: int) -> None:
        self.url, self.last = url, after
        self.arrivals = Arrivals()
        self.connects = 0
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="feed-follower", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                with httpx.Client(timeout=httpx.Timeout(5, read=30)) as client, client.stream(
                        "GET", f"{self.url}/v1/changes/stream",
                        headers={"X-Api-Key": KEY, "Last-Event-ID": str(self.last)}) as response:
                    self.connects += 1
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if line.startswith(": changes"):
                            self.ready.set()
                        elif line.startswith("data: "):
                            change = json.loads(line[6:])
                            self.arrivals.took(change, time.perf_counter())
                            self.last = max(self.last, int(change["cursor"]))
            except httpx.HTTPError:
                pass  # HQ is restarting: connect again
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()


def receiving(receiver: WebhookReceiver) -> Arrivals:
    """Stamp each rightly signed change the receiver takes (``testkit.webhooks`` verifies it)."""
    arrivals = Arrivals()

    def answer(attempt: Attempt) -> Answer:
        if attempt.change is not None:
            arrivals.took(attempt.change, time.perf_counter())
        return Answer()

    receiver.answer = answer
    return arrivals


class TappingKiosk:
    """A kiosk with a signed-in, consenting shopper: each ``tap`` is a product read, recorded and sent."""

    def __init__(self, workdir: Path, broker: str, pem: Path, hq: Hq, token: str, shopper: str) -> None:
        config = KioskConfig(store="madrid-centro", kiosk="kiosk-02", catalog=demo_catalog_path(),
                             reader="udp:127.0.0.1:9", broker=broker, data_dir=workdir / "kiosk-taps",
                             hq_public_key=pem, idle_timeout_s=3600)
        self.skus = [p.sku for p in load_catalog(demo_catalog_path()).products][:8]
        self.runtime = KioskRuntime(config, on_outcome=lambda outcome: None)
        self.runtime.link.start()
        until(lambda: self.runtime.link.connected, WAIT_S)
        outcome = self.runtime.kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=token))
        assert outcome.kind is OutcomeKind.SIGNED_IN, outcome
        self.runtime.consent(True)
        until(lambda: hq.store.profile(shopper, history_limit=0).consent is ConsentStatus.GRANTED, WAIT_S)
        self.taps = 0

    def tap(self) -> float:
        """Tap the next product; when (perf_counter, just before the kiosk handles the read)."""
        at = time.perf_counter()
        outcome = self.runtime.kiosk.handle(TagRead(TagKind.PRODUCT, "04a1b2c3",
                                                    sku=self.skus[self.taps % len(self.skus)]))
        assert outcome.kind is OutcomeKind.PRODUCT, outcome
        self.taps += 1
        return at

    def stop(self) -> None:
        self.runtime.link.stop()


def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def tap_latencies(kiosk: TappingKiosk, feed: FeedFollower, hook: Arrivals, after: int,
                  taps: int) -> tuple[list[float], list[float]]:
    """Tap after tap: from each until the stream, and the webhook, have its change, in ms."""
    to_feed: list[float] = []
    to_hook: list[float] = []
    rng = random.Random(11)
    for number in range(taps):
        at = kiosk.tap()
        if until(lambda n=number: len(feed.arrivals.after(after)) > n, WAIT_S):
            to_feed.append((max(feed.arrivals.after(after).items())[1] - at) * 1000)
        if until(lambda n=number: len(hook.after(after)) > n, WAIT_S):
            to_hook.append((max(hook.after(after).items())[1] - at) * 1000)
        time.sleep(rng.uniform(0, 0.05))  # out of step with the feed's and the webhooks' polls
    return to_feed, to_hook


def through_outages(hq: Hq, kiosk: TappingKiosk, feed: FeedFollower, hook: Arrivals, receiver: WebhookReceiver,
                    down_s: float, catch_up_s: float) -> dict[str, Any]:
    """Tap on while the receiver is down for ``down_s`` and HQ restarts halfway; count what arrives."""
    after = hq.store.changes.latest() or 0
    receiver.stop()
    restart = threading.Thread(target=lambda: (time.sleep(down_s / 2), hq.restart()), name="hq-restart")
    restart.start()
    made, started = 0, time.monotonic()
    while time.monotonic() - started < down_s:
        kiosk.tap()
        made += 1
        time.sleep(0.25)
    restart.join()
    receiver.start()
    until(lambda: len(feed.arrivals.after(after)) >= made and len(hook.after(after)) >= made, catch_up_s)
    to_feed, to_hook = len(feed.arrivals.after(after)), len(hook.after(after))
    return {"made": made, "feed_delivered": to_feed, "webhook_delivered": to_hook,
            "lost_feed": made - to_feed, "lost_webhook": made - to_hook,
            "duplicated_feed": feed.arrivals.duplicated(after), "duplicated_webhook": hook.duplicated(after),
            "receiver_down_s": down_s, "hq_restarts": hq.restarts, "stream_connects": feed.connects}
