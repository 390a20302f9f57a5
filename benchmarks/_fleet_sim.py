"""The simulated kiosks of ``benchmarks.fleet_load``: hundreds of real MQTT 5 clients (one
connection each, QoS 1, their own receipts topic) on one asyncio loop per child process,
tapping as told over a control queue and reporting what HQ receipted and how fast.

A tap's wire bytes are built without pydantic: a real kiosk's encoding cost is its own
tablet's, not this machine's; ``check_payloads`` proves HQ's decoder takes them.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_protocol import (
    ConsentStatus,
    EventKind,
    HlcClock,
    Role,
    decode_event,
    encode_event,
    issue_token,
    new_event,
)
from kiosk_protocol.contract import kiosk_topics

SKUS = [f"SKU-{n:04d}" for n in range(400)]
SHOPPERS = 5000
SIGNED_IN_SESSIONS = 0.2  # the rest are anonymous visitors


@dataclass
class SimKiosk:
    """One simulated kiosk: its MQTT client and what it has sent but not yet seen receipted."""

    store: str
    kiosk: str
    client: mqtt.Client
    clock: HlcClock
    seq: int = 0
    session: uuid.UUID = field(default_factory=uuid.uuid4)
    session_left: int = 0
    shopper: str | None = None
    card: str | None = None  # the signed-in shopper's card token, sent with the events that name them
    pending: dict[int, tuple[float, bool]] = field(default_factory=dict)  # seq -> (tap time, in window)


def event_payload(event_id: str, kind: EventKind, sim: SimKiosk, details: dict[str, Any]) -> bytes:
    """A TapEvent's wire bytes, built without pydantic: a real kiosk's encoding cost is its own
    tablet's, not this machine's. ``check_payloads`` proves HQ's decoder takes them."""
    card = {"card": sim.card} if sim.shopper else {}
    return json.dumps({"v": 2, "event_id": event_id, "kind": kind.value, "store": sim.store, "kiosk": sim.kiosk,
                       "seq": sim.seq, "session": str(sim.session), "shopper": sim.shopper,
                       "at": datetime.now(UTC).isoformat(), **details, **card}).encode()


def check_payloads() -> None:
    """Every kind the simulator sends is a valid TapEvent, the same as ``encode_event`` would make."""
    sim = SimKiosk("store-000", "kiosk-00", mqtt.Client(mqtt.CallbackAPIVersion.VERSION2), HlcClock("kiosk-00"),
                   seq=1, shopper="shopper-00001",
                   card=issue_token(Ed25519PrivateKey.generate(), "shopper-00001", Role.SHOPPER, 3600))
    for kind, details in [(EventKind.PRODUCT_VIEW, {"sku": SKUS[0]}),
                          (EventKind.WISHLIST_ADD, {"sku": SKUS[1], "hlc": str(sim.clock.now())}),
                          (EventKind.CONSENT, {"consent": "granted", "hlc": str(sim.clock.now())})]:
        event_id = str(uuid.uuid4())
        topic = kiosk_topics(sim.store, sim.kiosk).events
        event = decode_event(event_payload(event_id, kind, sim, details), topic=topic)
        assert encode_event(event) == encode_event(new_event(
            kind=kind, store=sim.store, kiosk=sim.kiosk, seq=1, session=sim.session, shopper=sim.shopper,
            event_id=uuid.UUID(event_id), card=sim.card, **details).model_copy(update={"at": event.at}))


class Simulator:
    """Hundreds of kiosks on one asyncio loop (paho driven through the loop's readers and writers)."""

    def __init__(self, port: int, kiosks: list[tuple[str, str]], control: Any, results: Any, seed: int,
                 card_key: bytes) -> None:
        self.port, self.control, self.results = port, control, results
        self.card_key = Ed25519PrivateKey.from_private_bytes(card_key)
        self.random = random.Random(seed)
        self.kiosks = [SimKiosk(store, kiosk, self._client(store, kiosk), HlcClock(kiosk)) for store, kiosk in kiosks]
        self.connected = 0
        self.sent_ids: list[str] = []
        self.latencies_ms: list[float] = []
        self.in_window_sent = 0
        self.receipts_in_window = 0
        self.duplicate_receipts = 0
        self.window: tuple[float, float] = (0.0, 0.0)
        self.last_receipt = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None

    def _client(self, store: str, kiosk: str) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{store}.{kiosk}", protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        return client

    def _attach(self, sim: SimKiosk) -> None:
        assert self.loop is not None
        loop, client = self.loop, sim.client

        def opened(c: mqtt.Client, u: Any, sock: Any) -> None:
            loop.add_reader(sock, c.loop_read)

        def closed(c: mqtt.Client, u: Any, sock: Any) -> None:
            loop.remove_reader(sock)

        def wants_write(c: mqtt.Client, u: Any, sock: Any) -> None:
            loop.add_writer(sock, c.loop_write)

        def written(c: mqtt.Client, u: Any, sock: Any) -> None:
            loop.remove_writer(sock)

        client.on_socket_open, client.on_socket_close = opened, closed
        client.on_socket_register_write, client.on_socket_unregister_write = wants_write, written
        receipts = kiosk_topics(sim.store, sim.kiosk).receipts

        def on_connect(c: mqtt.Client, u: Any, flags: Any, reason: Any, properties: Any) -> None:
            c.subscribe(receipts, qos=1)

        def on_subscribe(c: mqtt.Client, u: Any, mid: int, reasons: Any, properties: Any) -> None:
            self.connected += 1

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = lambda c, u, message: self._on_receipt(sim, bytes(message.payload))

    def _on_receipt(self, sim: SimKiosk, payload: bytes) -> None:
        now = time.time()
        for seq in json.loads(payload)["seqs"]:
            tapped = sim.pending.pop(seq, None)
            if tapped is None:
                self.duplicate_receipts += 1
                continue
            tap_time, in_window = tapped
            if in_window:
                self.latencies_ms.append((now - tap_time) * 1000)
            if self.window[0] <= now < self.window[1]:
                self.receipts_in_window += 1
            self.last_receipt = now

    def _tap(self, sim: SimKiosk, in_window: bool) -> None:
        """One tap: a view, or (for a signed-in visit) its consent first and now and then a wishlist add."""
        if sim.session_left <= 0:
            sim.session, sim.session_left = uuid.uuid4(), self.random.randint(5, 15)
            sim.shopper = (f"shopper-{self.random.randrange(SHOPPERS):05d}"
                           if self.random.random() < SIGNED_IN_SESSIONS else None)
            # The card read at sign-in: HQ checks it once per visit (the consent that opens it).
            sim.card = issue_token(self.card_key, sim.shopper, Role.SHOPPER, 3600) if sim.shopper else None
            first = EventKind.CONSENT if sim.shopper else EventKind.PRODUCT_VIEW
        else:
            first = EventKind.WISHLIST_ADD if sim.shopper and self.random.random() < 0.1 else EventKind.PRODUCT_VIEW
        sim.session_left -= 1
        sim.seq += 1
        details: dict[str, Any] = {}
        if first is EventKind.CONSENT:
            details = {"consent": ConsentStatus.GRANTED.value, "hlc": str(sim.clock.now())}
        elif first is EventKind.WISHLIST_ADD:
            details = {"sku": self.random.choice(SKUS), "hlc": str(sim.clock.now())}
        else:
            details = {"sku": self.random.choice(SKUS)}
        event_id = str(uuid.uuid4())
        self.sent_ids.append(event_id)
        sim.pending[sim.seq] = (time.time(), in_window)
        self.in_window_sent += in_window
        sim.client.publish(kiosk_topics(sim.store, sim.kiosk).events,
                           event_payload(event_id, first, sim, details), qos=1)

    async def _keepalive(self) -> None:
        while True:
            for sim in self.kiosks:
                sim.client.loop_misc()
            await asyncio.sleep(1.0)

    async def _command(self) -> tuple[Any, ...]:
        assert self.loop is not None
        command: tuple[Any, ...] = await self.loop.run_in_executor(None, self.control.get)
        return command

    async def _steady(self, warmup_s: float, seconds: float, drain_s: float) -> None:
        started = time.time()
        self.window = (started + warmup_s, started + warmup_s + seconds)

        async def kiosk_loop(sim: SimKiosk) -> None:
            await asyncio.sleep(self.random.random())  # kiosks tap out of step
            next_tap = time.time()
            while next_tap < self.window[1]:
                self._tap(sim, self.window[0] <= next_tap)
                next_tap += 1.0
                await asyncio.sleep(max(0.0, next_tap - time.time()))

        await asyncio.gather(*(kiosk_loop(sim) for sim in self.kiosks))
        deadline = time.time() + drain_s
        while any(sim.pending for sim in self.kiosks) and time.time() < deadline:
            await asyncio.sleep(0.1)

    async def _burst(self, per_kiosk: int, timeout_s: float) -> dict[str, float]:
        started = time.time()
        for _ in range(per_kiosk):
            for sim in self.kiosks:
                self._tap(sim, in_window=False)
            await asyncio.sleep(0)  # let the sockets drain between rounds
        deadline = started + timeout_s
        while any(sim.pending for sim in self.kiosks) and time.time() < deadline:
            await asyncio.sleep(0.05)
        return {"started": started, "finished": self.last_receipt,
                "unreceipted": sum(len(sim.pending) for sim in self.kiosks)}

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        for sim in self.kiosks:
            self._attach(sim)
            sim.client.connect("127.0.0.1", self.port, keepalive=60)
        keepalive = asyncio.create_task(self._keepalive())
        while self.connected < len(self.kiosks):
            await asyncio.sleep(0.05)
        self.results.put(("connected", len(self.kiosks)))
        while True:
            command = await self._command()
            if command[0] == "steady":
                await self._steady(*command[1:])
                self.results.put(("steady", {
                    "latencies_ms": self.latencies_ms, "in_window_sent": self.in_window_sent,
                    "receipts_in_window": self.receipts_in_window,
                    "unreceipted": sum(len(sim.pending) for sim in self.kiosks)}))
            elif command[0] == "burst":
                self.results.put(("burst", await self._burst(*command[1:])))
            else:
                break
        self.results.put(("done", {"sent_ids": self.sent_ids, "duplicate_receipts": self.duplicate_receipts}))
        keepalive.cancel()
        for sim in self.kiosks:
            sim.client.disconnect()


def simulator_process(port: int, kiosks: list[tuple[str, str]], control: Any, results: Any, seed: int,
                      card_key: bytes) -> None:
    """A child process running its share of the kiosks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(Simulator(port, kiosks, control, results, seed, card_key).run())
