"""Reservations under load: HQ's API (uvicorn, as ``ApiServer`` serves it, in a process of
its own) on a throwaway PostgreSQL, with many clients holding units at once.

- ``holds_per_s``: reservations granted (201) per second while every client holds as fast
  as HQ answers;
- ``reservation_p99_ms``: p99 of one reservation request, granted or refused, as a client
  times it (each client a keep-alive connection of its own, a lean one: the clients run
  on HQ's machine);
- ``oversold``: holds granted beyond a size's units, counted from the database after the
  run (must be 0). A few hot sizes with few units take a share of the requests, so they
  run out while clients still ask for them: the last units are fought over.
- ``state_change_p99_ms``: p99 from a member of staff's state change through the API to
  the ``ReservationUpdate`` reaching the kiosk the hold was asked at, a kiosk-side MQTT
  client on a real Mosquitto (HQ's process runs its responder and store live follower,
  as ``kiosk hq serve`` does, all through the holds run too).

Goal: >= 500 holds/s, p99 <= 100 ms, oversold 0, state change p99 <= 250 ms.

Beside them, what a request costs in CPU during the holds run: ``hq_cpu_ms_per_request``
(HQ's process), ``machine_cpu_ms_per_request`` (every process: HQ, PostgreSQL, the clients,
the broker) and ``cpu_bound_requests_per_s``, the most requests a second this machine's
cores could serve at that cost: where it is below the goal, no tuning of waits can reach it.

    .venv/bin/python -m benchmarks.reservations [--holds 6000] [--clients 50] [--moves 300] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from benchmarks._window import write_result
from hq import ApiKeys, ApiServer, ProfileResponder, ProfileStore, StoreLiveFollower, create_app
from hq._reservations import OPEN_STATES, reservations
from hq._stock import stock
from kiosk_app.demo import free_port
from kiosk_protocol import Reservation, ReservationState
from kiosk_protocol._cards import card_verifier
from testkit.mosquitto import Mosquitto
from testkit.postgres import ThrowawayDatabase
from testkit.store_kiosk import Heard, StoreKiosk

KEY = "bench-key-0123456789abcdef"
STORE = "bench-store"
SIZES = ("S", "M", "L")
COLD_SKUS, COLD_UNITS = 100, 40  # 300 sizes, 12 000 units: never run out
HOT_SKUS, HOT_UNITS, HOT_SHARE = 2, 10, 0.15  # 6 sizes, 60 units, 15 % of the requests: run out early
WARM_UP = 200
TARGET_HOLDS_PER_S, TARGET_P99_MS, TARGET_STATE_CHANGE_P99_MS = 500, 100, 250


def stock_feed() -> dict[str, dict[str, int]]:
    cold = {f"BENCH-{n:04d}": dict.fromkeys(SIZES, COLD_UNITS) for n in range(COLD_SKUS)}
    hot = {f"HOT-{n:02d}": dict.fromkeys(SIZES, HOT_UNITS) for n in range(HOT_SKUS)}
    return {**cold, **hot}


def requests(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """What each request holds: mostly spread over the cold sizes, a share on the few hot ones."""
    pick = random.Random(seed)
    bodies = []
    for n in range(count):
        hot = pick.random() < HOT_SHARE
        sku = f"HOT-{pick.randrange(HOT_SKUS):02d}" if hot else f"BENCH-{pick.randrange(COLD_SKUS):04d}"
        body = {"sku": sku, "size": pick.choice(SIZES), "kind": pick.choice(("fitting_room", "collect"))}
        if n % 2:  # half for a known shopper: their reservation is a change in the log too
            body["shopper"] = f"shopper-{pick.randrange(5000):05d}"
        bodies.append(body)
    return bodies


def serve(db_url: str, port: int, broker_url: str, live_follower: bool, ready: Event, stop: Event) -> None:
    """HQ's API, its responder and (unless not ``live_follower``) its store live follower in this
    (child) process, until ``stop``."""
    store = ProfileStore(db_url)
    # No cards in this run: a key no card is signed with.
    responder = ProfileResponder(broker_url, store, card_verifier(Ed25519PrivateKey.generate().public_key()))
    responder.start()
    if not responder.subscribed.wait(30):
        raise RuntimeError(f"HQ's responder did not subscribe at {broker_url}")
    live = StoreLiveFollower(store, responder)
    if live_follower:
        live.start()
    server = ApiServer(create_app(store, ApiKeys({"web": KEY}), responder=responder), port=port)
    server.start()
    ready.set()
    stop.wait()
    server.stop()
    if live_follower:
        live.stop()
    responder.stop()
    store.close()


class KeepAliveClient:
    """One client's keep-alive HTTP/1.1 connection to HQ, as lean as a client can be: the
    clients share the machine with HQ and its database, and httpx's own work per request
    would take the CPU the figures are about."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        """POST a JSON body; the answer's status (its body read and dropped)."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        self._writer.write(f"POST {path} HTTP/1.1\r\nhost: hq\r\nx-api-key: {KEY}\r\ncontent-type: "
                           f"application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
        await self._writer.drain()
        head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower().split("\r\n")
        fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        await self._reader.readexactly(int(fields["content-length"]))
        if fields.get("connection") == "close":
            await self.close()
        return int(head[0].split()[1])

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def hold_all(port: int, bodies: list[dict[str, Any]], clients: int
                   ) -> tuple[list[float], dict[int, int], float]:
    """Every body POSTed by ``clients`` concurrent clients; latencies (ms), answers by status, seconds taken."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(json.dumps(body).encode())
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        connection = KeepAliveClient(port)
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            status = await connection.post(f"/v1/stores/{STORE}/reservations", body)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses, time.perf_counter() - started


def oversold(db_url: str) -> dict[str, int]:
    """Holds granted beyond units, and sizes whose ``held`` is not their open reservations, from the database."""
    open_holds = (sa.select(reservations.c.sku, reservations.c.size, sa.func.count().label("holds"))
                  .where(reservations.c.store == STORE, reservations.c.state.in_([s.value for s in OPEN_STATES]))
                  .group_by(reservations.c.sku, reservations.c.size).subquery())
    query = (sa.select(stock.c.units, stock.c.held, sa.func.coalesce(open_holds.c.holds, 0))
             .select_from(stock.outerjoin(open_holds, sa.and_(open_holds.c.sku == stock.c.sku,
                                                              open_holds.c.size == stock.c.size)))
             .where(stock.c.store == STORE))
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as db:
            rows = db.execute(query).all()
    finally:
        engine.dispose()
    return {"oversold": sum(max(0, holds - units) for units, _, holds in rows),
            "held_not_matching": sum(1 for _, held, holds in rows if held != holds)}


def state_changes(port: int, broker_url: str, moves: int) -> list[float]:
    """Milliseconds from each staff state change (API) to its ReservationUpdate at the kiosk that asked."""
    kiosk = StoreKiosk(broker_url, STORE, "kiosk-01")
    try:
        held = [kiosk.ask(f"BENCH-{n % COLD_SKUS:04d}", SIZES[n % len(SIZES)]).reservation for n in range(moves)]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"x-api-key": KEY}, timeout=30) as staff:
            return [timed_move(staff, kiosk, reservation) for reservation in held]
    finally:
        kiosk.close()


def timed_move(staff: httpx.Client, kiosk: StoreKiosk, reservation: Reservation | None) -> float:
    """Staff take one reservation; milliseconds until its update arrived at the kiosk."""
    if reservation is None:
        raise RuntimeError("a cold size ran out: fewer holds or more units")
    since = len(kiosk.heard)
    started = time.monotonic()
    staff.post(f"/v1/stores/{STORE}/reservations/{reservation.reservation_id.hex}/state",
               json={"state": "taken"}).raise_for_status()

    def arrival() -> Heard | None:
        return kiosk.arrival_of(reservation.reservation_id, ReservationState.TAKEN, since)

    if not kiosk.wait_for(lambda: arrival() is not None, 10):
        raise RuntimeError(f"no update of {reservation.reservation_id} reached the kiosk")
    heard = arrival()
    assert heard is not None
    return (heard.at - started) * 1000


class CpuUse:
    """CPU seconds spent inside a ``with``: by one process, and by the whole machine (all cores)."""

    def __init__(self, pid: int | None) -> None:
        self._process = psutil.Process(pid)
        self.cores = psutil.cpu_count() or 1
        self.process_s = self.machine_s = 0.0

    def __enter__(self) -> CpuUse:
        self._started = (self._used(), _busy())
        return self

    def __exit__(self, *_: object) -> None:
        self.process_s = self._used() - self._started[0]
        self.machine_s = _busy() - self._started[1]

    def _used(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)


def _busy() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def measure(holds: int, clients: int, moves: int, live_follower: bool = True) -> dict[str, Any]:
    with ThrowawayDatabase("kiosk_bench") as database, tempfile.TemporaryDirectory() as workdir:
        broker = Mosquitto(Path(workdir))
        broker.start()
        store = ProfileStore(database.url)
        store.stock.apply_feed(STORE, 1, stock_feed(), "bench")
        store.close()
        spawn = multiprocessing.get_context("spawn")
        ready, stop = spawn.Event(), spawn.Event()
        port = free_port()
        server = spawn.Process(target=serve, args=(database.url, port, broker.url, live_follower, ready, stop),
                               daemon=True)
        server.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("HQ's API did not start")
            bodies = requests(WARM_UP + holds)
            asyncio.run(hold_all(port, bodies[:WARM_UP], clients))  # connections, pools and plans warmed
            with CpuUse(server.pid) as cpu:
                latencies, statuses, seconds = asyncio.run(hold_all(port, bodies[WARM_UP:], clients))
            moved = state_changes(port, broker.url, moves)
        finally:
            stop.set()
            server.join(30)
            broker.stop()
        counted = oversold(database.url)
    granted = statuses.get(201, 0)
    return {
        "holds_per_s": round(granted / seconds, 1),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "reservation_p50_ms": round(statistics.median(latencies), 2),
        "reservation_p99_ms": percentile(latencies, 0.99),
        "oversold": counted["oversold"],
        **({"state_change_p50_ms": round(statistics.median(moved), 2),
            "state_change_p99_ms": percentile(moved, 0.99), "state_changes": len(moved)} if moved else {}),
        "hq_cpu_ms_per_request": round(cpu.process_s * 1000 / len(latencies), 2),
        "machine_cpu_ms_per_request": round(cpu.machine_s * 1000 / len(latencies), 2),
        "cpu_bound_requests_per_s": round(cpu.cores * len(latencies) / cpu.machine_s, 1),
        "held_not_matching": counted["held_not_matching"],
        "requests": len(latencies), "granted": granted, "out_of_stock": statuses.get(409, 0),
        "other_answers": {str(code): n for code, n in statuses.items() if code not in (201, 409)},
        "clients": clients, "database": "postgresql", "live_follower": live_follower,
    }


def verdicts(result: dict[str, Any]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    return [f"holds_per_s        {result['holds_per_s']:>9}  >= {TARGET_HOLDS_PER_S}  "
            f"{verdict(result['holds_per_s'] >= TARGET_HOLDS_PER_S)}",
            f"reservation_p99_ms {result['reservation_p99_ms']:>9}  <= {TARGET_P99_MS}  "
            f"{verdict(result['reservation_p99_ms'] <= TARGET_P99_MS)}",
            f"oversold           {result['oversold']:>9}  == 0    {verdict(result['oversold'] == 0)}",
            f"state_change_p99_ms {result.get('state_change_p99_ms', '-'):>8}  <= {TARGET_STATE_CHANGE_P99_MS}  "
            f"{verdict(result.get('state_change_p99_ms', 0) <= TARGET_STATE_CHANGE_P99_MS)}",
            f"cpu_bound_requests_per_s {result['cpu_bound_requests_per_s']:>7}  (HQ {result['hq_cpu_ms_per_request']}"
            f" ms, all processes {result['machine_cpu_ms_per_request']} ms of CPU a request)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holds", type=int, default=6000, help="reservation requests, after a warm-up of 200")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients, each with its own connection")
    parser.add_argument("--moves", type=int, default=300, help="staff state changes timed to the kiosk (0: none)")
    parser.add_argument("--without-live", action="store_true",
                        help="HQ without its store live follower (the holds alone; no state changes timed)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/reservations.json"))
    args = parser.parse_args()
    result = measure(args.holds, args.clients, 0 if args.without_live else args.moves, not args.without_live)
    write_result(result, args.json)
    print("\n".join(verdicts(result)))


if __name__ == "__main__":
    main()
