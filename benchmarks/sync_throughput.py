"""Sync throughput against a real Mosquitto, side by side with bare paho in one run.

- HQ ingest events/s (SQLite and PostgreSQL) vs a bare paho subscriber draining the
  same backlog from the same broker;
- kiosk drain events/s (outbox -> broker PUBACKs) vs bare paho publishing the same
  payloads with QoS 1;
- tap-to-profile-visible latency p50/p99: outbox commit until HQ's store has it.

    .venv/bin/python -m benchmarks.sync_throughput [--events 20000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from backend_sync import KioskLink, Outbox
from backend_sync._mqtt import BrokerUrl, connect_async, new_client
from hq import IngestWorker, ProfileStore
from kiosk_protocol import EventKind, encode_event, events_topic, new_event
from kiosk_protocol.contract import EVENTS_WILDCARD
from testkit.mosquitto import Mosquitto
from testkit.postgres import ThrowawayDatabase

STORE, KIOSK = "bench-store", "kiosk-01"
TOPIC = events_topic(STORE, KIOSK)


def payloads(count: int) -> list[bytes]:
    session = uuid.uuid4()
    return [encode_event(new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=seq, session=session,
                                   shopper=None, sku="BENCH-1")) for seq in range(1, count + 1)]


def connected(client_id: str, broker: BrokerUrl, on_message: Any = None) -> mqtt.Client:
    client = new_client(broker, client_id)
    ready = threading.Event()
    client.on_connect = lambda *args: ready.set()
    if on_message:
        client.on_message = on_message
    connect_async(client, broker)
    client.loop_start()
    assert ready.wait(10)
    return client


def publish_all(broker: BrokerUrl, messages: list[bytes]) -> float:
    """Bare paho: publish with QoS 1 and wait for every PUBACK; returns messages/s."""
    client = connected(f"bare-pub-{uuid.uuid4().hex[:6]}", broker)
    started = time.perf_counter()
    infos = [client.publish(TOPIC, payload, qos=1) for payload in messages]
    for info in infos:
        info.wait_for_publish(60)
    rate = len(messages) / (time.perf_counter() - started)
    client.disconnect()
    client.loop_stop()
    return rate


def park_backlog(broker: BrokerUrl, client_id: str, messages: list[bytes]) -> None:
    """Give ``client_id`` a persistent subscription, go away, and queue ``messages`` for it."""
    subscriber = connected(client_id, broker)
    done = threading.Event()
    subscriber.on_subscribe = lambda *args: done.set()
    subscriber.subscribe(EVENTS_WILDCARD, qos=1)
    assert done.wait(10)
    subscriber.disconnect()
    subscriber.loop_stop()
    publish_all(broker, messages)


def bare_subscriber_rate(broker: BrokerUrl, messages: list[bytes]) -> float:
    park_backlog(broker, "bare-sub", messages)
    received = 0
    finished = threading.Event()

    def count(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == len(messages):
            finished.set()

    started = time.perf_counter()
    client = connected("bare-sub", broker, on_message=count)
    assert finished.wait(300)
    rate = len(messages) / (time.perf_counter() - started)
    client.disconnect()
    client.loop_stop()
    return rate


def ingest_rate(broker: BrokerUrl, db_url: str, messages: list[bytes]) -> float:
    worker_id = f"hq-bench-{uuid.uuid4().hex[:6]}"
    park_backlog(broker, worker_id, messages)
    store = ProfileStore(db_url)
    worker = IngestWorker(str(broker), store, worker_id=worker_id)
    started = time.perf_counter()
    worker.start()
    while worker.stats.stored + worker.stats.duplicates < len(messages):
        time.sleep(0.01)
    rate = len(messages) / (time.perf_counter() - started)
    worker.stop()
    store.close()
    return rate


def kiosk_drain_rate(broker: BrokerUrl, workdir: Path, messages: list[bytes]) -> float:
    outbox = Outbox(workdir / f"drain-{uuid.uuid4().hex[:6]}.sqlite")
    for payload in messages:
        outbox.enqueue(TOPIC, lambda seq, payload=payload: payload)
    link = KioskLink(str(broker), STORE, KIOSK, outbox)
    started = time.perf_counter()
    link.start()
    while outbox.due(resend_after_s=3600, limit=1):
        time.sleep(0.005)
    rate = len(messages) / (time.perf_counter() - started)
    link.stop()
    return rate


def tap_to_profile_ms(broker: BrokerUrl, workdir: Path, db_url: str, samples: int) -> list[float]:
    store = ProfileStore(db_url)
    worker = IngestWorker(str(broker), store, worker_id="hq-latency")
    worker.start()
    assert worker.subscribed.wait(10)
    outbox = Outbox(workdir / "latency.sqlite")
    link = KioskLink(str(broker), STORE, "kiosk-02", outbox)
    link.start()
    while not link.connected:
        time.sleep(0.01)
    topic, session, latencies = events_topic(STORE, "kiosk-02"), uuid.uuid4(), []
    for _ in range(samples):
        event_id = uuid.uuid4()
        started = time.perf_counter()
        outbox.enqueue(topic, lambda seq, event_id=event_id: encode_event(new_event(
            kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk="kiosk-02", seq=seq, session=session, shopper=None,
            sku="BENCH-1", event_id=event_id)))
        while not store.has_event(str(event_id)):
            time.sleep(0.0005)
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    link.stop()
    worker.stop()
    store.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/sync_throughput.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    broker_process = Mosquitto(workdir)
    broker_process.start()
    broker = BrokerUrl.parse(broker_process.url)
    postgres = ThrowawayDatabase("kiosk_bench")
    try:
        messages = payloads(args.events)
        bare_sub = bare_subscriber_rate(broker, messages)
        ingest_sqlite = ingest_rate(broker, f"sqlite:///{workdir / 'hq.sqlite'}", messages)
        ingest_postgres = ingest_rate(broker, postgres.url, messages)
        bare_pub = publish_all(broker, messages)
        drain = kiosk_drain_rate(broker, workdir, messages)
        latencies = tap_to_profile_ms(broker, workdir, f"sqlite:///{workdir / 'latency.sqlite'}",
                                      args.latency_samples)
    finally:
        broker_process.stop()
        postgres.drop()
    result = {
        "events": args.events,
        "hq_ingest_per_s": {"sqlite": round(ingest_sqlite), "postgresql": round(ingest_postgres),
                            "bare_paho_subscriber": round(bare_sub),
                            "ratio_sqlite": round(ingest_sqlite / bare_sub, 3),
                            "ratio_postgresql": round(ingest_postgres / bare_sub, 3)},
        "kiosk_drain_per_s": {"kiosk_link": round(drain), "bare_paho_publisher": round(bare_pub),
                              "ratio": round(drain / bare_pub, 3)},
        "tap_to_profile_ms": {"samples": len(latencies), "p50": round(statistics.median(latencies), 2),
                              "p99": round(percentile(latencies, 0.99), 2)},
    }
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
