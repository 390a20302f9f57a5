"""HQ's analytics at fleet scale: a synthetic history of 5 million events over 200 stores
(1,000 kiosks, 50,000 products, 8 weeks) in a throwaway PostgreSQL, counted by the roll-up
code HQ's ingest uses and bulk-loaded (``testkit.analytics_bulk``: ``Analytics.record_in``
in ingest's batches on a scratch database per store, then COPY of the raw events and of the
roll-up rows it computed), then:

- ``ingest_ratio``: the real ingest path's rate with roll-ups on over its rate with them off
  (``ProfileStore(url, roll_ups=False)``), on 200,000 further events into the loaded
  database: ``ProfileStore.record_many`` as ``IngestWorker`` calls it (card visits looked up
  and the batch admitted first, not timed), in batches of ``--batch`` events, the two
  stores taking turns by rounds so both meet the same tables. Goal ≥ 0.8.
- ``endpoints``: ``{NAME: {"p50_ms", "p99_ms"}}`` for each analytics endpoint
  (``GET /fleet/api/analytics/NAME``) over the history's last 30 days, every store at once,
  through HQ's HTTP API (``ApiServer`` in a process of its own, an HQ key, one keep-alive
  client); ``endpoints_one_store``: the same, each request for one store picked at random.
  Goal p99 ≤ 200 ms.

    .venv/bin/python -m benchmarks.analytics [--events 5000000] [--jobs 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks._window import percentile, write_result
from hq import ApiKeys, ApiServer, ProfileStore, create_app
from hq._admission import admit, sessions_to_check
from hq._uptime import kiosk_spans
from kiosk_app.demo import free_port
from kiosk_protocol import Store, TapEvent, wall_clock_ms
from kiosk_protocol._cards import card_verifier
from kiosk_protocol._tokens import Role, issue_token
from testkit.analytics_bulk import (
    BulkLoader,
    kiosks_of,
    loaded_rows,
    store_history,
    stores,
    uptime_spans,
)
from testkit.postgres import ThrowawayDatabase

KEY = "bench-hq-key-0123456789abcdef"
STORES, KIOSKS_PER_STORE, PRODUCTS, DAYS = 200, 5, 50_000, 56
ENDPOINTS = ("top-products", "hourly", "funnel", "lift", "uptime")
RANGE_DAYS = 30
RATIO_EVENTS, RATIO_ROUND = 200_000, 20_000
TARGET_RATIO, TARGET_P99_MS = 0.8, 200.0


def history_days(today: date) -> tuple[date, date]:
    """The history's first and last local day: eight weeks up to yesterday."""
    last = today - timedelta(days=1)
    return last - timedelta(days=DAYS - 1), last


def _counted(args: tuple[Store, int, date, int]) -> tuple[dict[str, list[dict[str, Any]]], int, int]:
    """One store's history made and counted (in a pool's process): its rows, orders and reservations."""
    store, events, first, seed = args
    history = store_history(store, events, first, DAYS, kiosks_of(store, KIOSKS_PER_STORE), PRODUCTS, seed)
    return loaded_rows(history), len(history.orders), len(history.reservations)


def bulk_load(url: str, events: int, jobs: int, first: date, now: datetime) -> dict[str, Any]:
    """The synthetic history into HQ's database at ``url``; what went in and how long it took."""
    known = stores(STORES)
    ProfileStore(url).close()  # HQ's tables, as HQ makes them
    loader = BulkLoader(url)
    loader.know_stores(known)
    started = time.monotonic()
    loaded = orders = reservations = 0
    work = [(store, events // STORES + (n < events % STORES), first, 1000 + n) for n, store in enumerate(known)]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for number, (rows, ordered, reserved) in enumerate(pool.imap(_counted, work)):
            loaded += loader.write(rows)
            orders, reservations = orders + ordered, reservations + reserved
            if number % 20 == 19:
                print(f"  {number + 1} stores, {loaded:,} events, {time.monotonic() - started:.0f} s", flush=True)
    spans = [row for n, store in enumerate(known)
             for row in uptime_spans(store, kiosks_of(store, KIOSKS_PER_STORE), first, DAYS, 5000 + n, now)]
    loader.copy(kiosk_spans.name, spans)
    loader.close()
    counted = time.monotonic() - started
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(sa.text("VACUUM ANALYZE"))  # what autovacuum does after a load, done now
        sizes = {name: int(db.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
                 for name in ("events", "analytics_visits", "analytics_visit_products", "analytics_product_days",
                              "analytics_shown_days", "analytics_store_days", "analytics_kiosk_days",
                              "analytics_kiosk_spans")}
    engine.dispose()
    return {"events": loaded, "orders": orders, "reservations": reservations, "load_s": round(counted, 1),
            "rows": sizes}


def ratio_events(count: int, first: date, signer: Ed25519PrivateKey) -> list[TapEvent]:
    """``count`` more events at every store over the history's last two days, in the order they happened,
    each naming a shopper carrying the shopper's card (as a version 3 kiosk sends them)."""
    known = stores(STORES)
    per_store = count // STORES
    made: list[TapEvent] = []
    cards: dict[str, str] = {}
    for n, store in enumerate(known):
        history = store_history(store, per_store, first, 2, kiosks_of(store, KIOSKS_PER_STORE), PRODUCTS, 9000 + n)
        for event in history.events:
            if event.shopper:
                card = cards.setdefault(event.shopper, issue_token(signer, event.shopper, Role.SHOPPER, 86400 * 30))
                event = event.model_copy(update={"event_id": uuid.uuid4(), "card": card})
            else:
                event = event.model_copy(update={"event_id": uuid.uuid4()})
            made.append(event)
    return sorted(made, key=lambda e: e.at)


def ingest_ratio(url: str, events: Sequence[TapEvent], batch: int, signer: Ed25519PrivateKey) -> dict[str, Any]:
    """Events per second through ``record_many`` with roll-ups on and off, taking turns by rounds."""
    verify = card_verifier(signer.public_key())
    with_rollups, without = ProfileStore(url), ProfileStore(url, roll_ups=False)
    seconds = {True: 0.0, False: 0.0}
    stored = {True: 0, False: 0}
    try:
        size = max(1, min(RATIO_ROUND, len(events) // 8))
        rounds = [events[i:i + size] for i in range(0, len(events), size)]
        for number, round_events in enumerate(rounds):
            on = number % 4 in (0, 3)  # on, off, off, on, ...: neither always goes first
            store = with_rollups if on else without
            for first in range(0, len(round_events), batch):
                chunk = list(round_events[first:first + batch])
                known = store.card_visits(sessions_to_check(chunk))  # as IngestWorker._admit
                admission = admit(chunk, known, verify, wall_clock_ms())
                started = time.perf_counter()
                stored[on] += len(store.record_many(admission.accepted, admission.new_visits))
                seconds[on] += time.perf_counter() - started
    finally:
        with_rollups.close()
        without.close()
    on_rate, off_rate = stored[True] / seconds[True], stored[False] / seconds[False]
    return {"ingest_ratio": round(on_rate / off_rate, 3), "events_per_s_rollups_on": round(on_rate, 1),
            "events_per_s_rollups_off": round(off_rate, 1), "ratio_events": stored[True] + stored[False],
            "batch": batch}


def serve(db_url: str, port: int, ready: Event, stop: Event) -> None:
    """HQ's API in this (child) process, until ``stop``."""
    store = ProfileStore(db_url)
    server = ApiServer(create_app(store, ApiKeys({"hq": KEY})), port=port)
    server.start()
    ready.set()
    stop.wait()
    server.stop()
    store.close()


def _asked(first: date, last: date, requests: int, one_store: bool) -> Iterator[dict[str, str]]:
    pick = random.Random(18)
    for _ in range(requests):
        params = {"from": first.isoformat(), "to": last.isoformat()}
        if one_store:
            params["store"] = f"store-{pick.randrange(STORES):03d}"
        yield params


def time_endpoints(port: int, first: date, last: date, requests: int, one_store: bool) -> dict[str, Any]:
    """p50 and p99 of each endpoint's answer over local days ``first`` to ``last``, as a client times it."""
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"x-api-key": KEY}, timeout=120) as client:
        for name in ENDPOINTS:
            for params in _asked(first, last, 3, one_store):  # plans and caches warmed
                client.get(f"/fleet/api/analytics/{name}", params=params).raise_for_status()
            took = []
            for params in _asked(first, last, requests, one_store):
                started = time.perf_counter()
                client.get(f"/fleet/api/analytics/{name}", params=params).raise_for_status()
                took.append((time.perf_counter() - started) * 1000)
            figures[name] = {"p50_ms": round(statistics.median(took), 1), "p99_ms": round(percentile(took, 0.99), 1),
                             "requests": len(took)}
    return figures


def endpoints(url: str, first: date, last: date, requests: int) -> dict[str, Any]:
    """The endpoints' figures for every store at once and for one store, HQ's API in a process of its own."""
    spawn = multiprocessing.get_context("spawn")
    ready, stop = spawn.Event(), spawn.Event()
    port = free_port()
    server = spawn.Process(target=serve, args=(url, port, ready, stop), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("HQ's API did not start")
        return {"endpoints": time_endpoints(port, first, last, requests, False),
                "endpoints_one_store": time_endpoints(port, first, last, requests, True)}
    finally:
        stop.set()
        server.join(30)


def measure(events: int, jobs: int, batch: int, ratio: int, requests: int, keep: bool = False,
            loaded_url: str | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    first, last = history_days(now.date())
    database = ThrowawayDatabase("kiosk_bench") if loaded_url is None else None
    url = database.url if database is not None else str(loaded_url)
    try:
        loaded = bulk_load(url, events, jobs, first, now) if loaded_url is None else {"url": url}
        print(f"loaded {loaded.get('events', 0):,} events in {loaded.get('load_s')} s; database {url}", flush=True)
        answered = endpoints(url, last - timedelta(days=RANGE_DAYS - 1), last, requests)
        signer = Ed25519PrivateKey.generate()
        ingested = ingest_ratio(url, ratio_events(ratio, last - timedelta(days=1), signer), batch, signer) \
            if ratio else {"ingest_ratio": None}
    finally:
        if database is not None and not keep:
            database.drop()
    return {**ingested, **answered, "loaded": loaded, "range": {"from": str(last - timedelta(days=RANGE_DAYS - 1)),
                                                                  "to": str(last)},
            "stores": STORES, "kiosks": STORES * KIOSKS_PER_STORE, "products": PRODUCTS, "database": "postgresql"}


def verdicts(result: dict[str, Any]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    ratio = result["ingest_ratio"]
    lines = [f"ingest_ratio {ratio}  >= {TARGET_RATIO}  {verdict(ratio is not None and ratio >= TARGET_RATIO)}"]
    for group in ("endpoints", "endpoints_one_store"):
        for name, figures in result[group].items():
            lines.append(f"{group}.{name:<13} p99 {figures['p99_ms']:>8} ms  <= {TARGET_P99_MS:g}  "
                         f"{verdict(figures['p99_ms'] <= TARGET_P99_MS)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000, help="events in the history loaded first")
    parser.add_argument("--jobs", type=int, default=2, help="processes counting the stores' roll-ups")
    parser.add_argument("--batch", type=int, default=2000, help="events per ingest batch (the worker's largest)")
    parser.add_argument("--ratio-events", type=int, default=RATIO_EVENTS, help="events the ingest ratio is timed on")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database (for EXPLAIN ANALYZE)")
    parser.add_argument("--loaded", metavar="URL", help="measure a database a --keep run loaded, without loading")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/analytics.json"))
    args = parser.parse_args()
    result = measure(args.events, args.jobs, args.batch, args.ratio_events, args.requests, args.keep, args.loaded)
    write_result(result, args.json)
    print("\n".join(verdicts(result)))


if __name__ == "__main__":
    main()
