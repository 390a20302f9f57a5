"""Change feed latency: from a change's commit to its arrival on open Server-Sent Events
streams, on SQLite and PostgreSQL.

The change is written through a store of its own (as another HQ process or an ingest
worker would), so the streams learn of it by polling the log, not from the writer. The
target is p99 under 250 ms.

    .venv/bin/python -m benchmarks.feed_latency [--changes 300] [--streams 8] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks._window import summary
from hq import ApiKeys, ApiServer, ProfileStore, create_app
from kiosk_app.demo import free_port
from kiosk_protocol import EventKind, new_event
from testkit.postgres import ThrowawayDatabase

KEY = "bench-key-0123456789abcdef"


def follow(url: str, arrivals: dict[int, float], ready: threading.Event, stop: threading.Event) -> None:
    """Read one stream, stamping each change's arrival by its cursor."""
    with httpx.Client(timeout=30) as client, client.stream(
            "GET", f"{url}/v1/changes/stream", headers={"X-Api-Key": KEY, "Last-Event-ID": "0"}) as response:
        for line in response.iter_lines():
            if line.startswith(": changes"):
                ready.set()
            elif line.startswith("id: "):
                arrivals[int(line[4:])] = time.perf_counter()
            if stop.is_set():
                return


def latencies_ms(url: str, changes: int, streams: int) -> list[float]:
    store, writer = ProfileStore(url), ProfileStore(url)
    app = create_app(store, ApiKeys({"bench": KEY}))
    server = ApiServer(app, port=free_port())
    server.start()
    arrivals: list[dict[int, float]] = [{} for _ in range(streams)]
    ready = [threading.Event() for _ in range(streams)]
    stop = threading.Event()
    readers = [threading.Thread(target=follow, args=(server.url, arrivals[n], ready[n], stop), daemon=True)
               for n in range(streams)]
    for reader in readers:
        reader.start()
    assert all(event.wait(10) for event in ready)
    committed: dict[int, float] = {}
    rng = random.Random(7)
    try:
        for n in range(changes):
            writer.record(new_event(kind=EventKind.PRODUCT_VIEW, store="bench-store", kiosk="kiosk-01", seq=n + 1,
                                    session=uuid.uuid4(), shopper="shopper-bench", sku="BENCH-1"))
            at = time.perf_counter()
            committed[writer.changes.latest()] = at
            time.sleep(rng.uniform(0, 0.03))  # changes arrive now and then, not in lockstep with the poll
        deadline = time.monotonic() + 10
        while any(len(seen) < changes for seen in arrivals) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        app.state.changes.close()  # the streams end, and their readers with them
        server.stop()
        store.close()
        writer.close()
    return [(seen[cursor] - at) * 1000 for seen in arrivals for cursor, at in committed.items() if cursor in seen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/feed_latency.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="feed-bench-"))
    result: dict[str, Any] = {"changes": args.changes, "streams": args.streams}
    with ThrowawayDatabase("kiosk_bench") as postgres:
        for name, url in (("sqlite", f"sqlite:///{workdir / 'hq.sqlite'}"), ("postgresql", postgres.url)):
            result[f"commit_to_stream_ms_{name}"] = summary(latencies_ms(url, args.changes, args.streams), 250)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
