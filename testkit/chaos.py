"""Chaos tooling shared by the short chaos test and the long chaos benchmark: a TCP
proxy that can cut every link, a kiosk process that survives SIGKILL, and a run that
kills brokers, kiosks and links while events flow.

Run a kiosk process: ``python -m testkit.chaos kiosk --broker URL --kiosk ID --db PATH
--count N --rate R``. It enqueues sequence-numbered events up to N (resuming where a
killed run stopped) and exits 0 once HQ has receipted them all.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from backend_sync import KioskLink, Outbox
from hq import IngestWorker, ProfileStore
from kiosk_protocol import EventKind, encode_event, events_topic, new_event

STORE = "chaos-store"
log = logging.getLogger(__name__)


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``; ``cut`` drops every live link."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._links: list[socket.socket] = []
        self._lock = threading.Lock()
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Break every connection through the proxy, as a failing network would."""
        self.cuts += 1
        self._drop_links()

    def close(self) -> None:
        """Stop accepting and drop what is left."""
        with contextlib.suppress(OSError):  # a close alone leaves the accepting thread blocked, listening on
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._drop_links()

    def _drop_links(self) -> None:
        with self._lock:
            links, self._links = self._links, []
        _shut(*links)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # the 2 s were for connecting: a quiet broker is no broken link
            with self._lock:
                self._links += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(source, sink)


def _shut(*sockets: socket.socket) -> None:
    """Shut each socket down, then close it.

    The shutdown is what wakes a thread blocked reading it (the other direction's pipe): a
    close alone would leave that read holding the connection open, unseen by either end.
    """
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    for sock in sockets:
        sock.close()


def event_id(kiosk: str, seq: int) -> uuid.UUID:
    """The same event always gets the same id, so a resumed kiosk cannot mint a new one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"chaos/{kiosk}/{seq}")


def run_kiosk(broker: str, kiosk: str, db: Path, count: int, rate: float, resend_after_s: float) -> int:
    """Enqueue events 1..count at ``rate``/s, resuming after a kill; wait for every receipt."""
    outbox = Outbox(db)
    link = KioskLink(broker, STORE, kiosk, outbox, resend_after_s=resend_after_s)
    link.start()
    topic = events_topic(STORE, kiosk)
    session = uuid.uuid5(uuid.NAMESPACE_URL, f"chaos/{kiosk}")
    next_at = time.monotonic()
    while outbox.last_sequence() < count:
        outbox.enqueue(topic, lambda s: encode_event(new_event(
            kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=kiosk, seq=s, session=session, shopper=None,
            sku="CHAOS-1", event_id=event_id(kiosk, s))))
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))
    while len(outbox):
        time.sleep(0.05)
    print(f"{kiosk} done: published {link.stats.published}, resent {link.stats.resent}", flush=True)
    link.stop()
    return 0


@dataclass
class ChaosReport:
    """What a chaos run did and what HQ holds at the end."""

    kiosks: int
    events_per_kiosk: int
    expected: int
    stored: int
    lost: int
    duplicated: int
    redelivered: int
    broker_kills: int
    kiosk_kills: int
    link_cuts: int
    seconds: float
    actions: list[str] = field(default_factory=list)


class Broker(Protocol):
    """What the chaos run needs of a broker: where it listens, start, and kill -9."""

    port: int
    url: str

    def start(self) -> None: ...

    def kill(self) -> None: ...


def run_chaos(broker: Broker, workdir: Path, kiosks: int, events_per_kiosk: int, rate: float,
              broker_kills: int, kiosk_kills: int, link_cuts: int, resend_after_s: float = 2.0,
              timeout_s: float = 300.0, seed: int = 7) -> ChaosReport:
    """Run kiosk processes through a proxy while killing and cutting; then count what HQ holds."""
    rng = random.Random(seed)
    store = ProfileStore(f"sqlite:///{workdir / 'hq.sqlite'}")
    hq = IngestWorker(broker.url, store, worker_id="chaos-hq")
    hq.start()
    assert hq.subscribed.wait(10), "HQ did not subscribe"
    proxy = TcpProxy(broker.port)
    names = [f"kiosk-{n}" for n in range(kiosks)]

    def spawn(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "testkit.chaos", "kiosk", "--broker", f"mqtt://127.0.0.1:{proxy.port}",
             "--kiosk", name, "--db", str(workdir / f"{name}.sqlite"), "--count", str(events_per_kiosk),
             "--rate", str(rate), "--resend-after", str(resend_after_s)],
            stdout=subprocess.DEVNULL)

    started = time.monotonic()
    processes = {name: spawn(name) for name in names}
    run_for = events_per_kiosk / rate
    plan = (["broker"] * broker_kills) + (["kiosk"] * kiosk_kills) + (["cut"] * link_cuts)
    rng.shuffle(plan)
    actions = []
    for number, action in enumerate(plan, 1):
        time.sleep(run_for * 0.8 / (len(plan) + 1))
        if action == "broker":
            broker.kill()
            time.sleep(0.5)
            broker.start()
        elif action == "kiosk":
            victim = rng.choice(names)
            processes[victim].kill()
            processes[victim].wait()
            processes[victim] = spawn(victim)
            action = f"kiosk {victim}"
        else:
            proxy.cut()
        actions.append(f"{time.monotonic() - started:5.1f}s {number}: {action}")
    deadline = started + timeout_s
    for name, process in processes.items():
        process.wait(max(1.0, deadline - time.monotonic()))
        assert process.returncode == 0, f"{name} exited with {process.returncode}"
    expected = kiosks * events_per_kiosk
    while store.event_count() < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    seconds = time.monotonic() - started
    hq.stop()
    proxy.close()
    with sa.create_engine(store.url).connect() as db:
        rows = db.execute(sa.text("SELECT kiosk, seq, COUNT(*) FROM events GROUP BY kiosk, seq")).all()
    store.close()
    held = {(kiosk, seq) for kiosk, seq, _ in rows}
    wanted = {(name, seq) for name in names for seq in range(1, events_per_kiosk + 1)}
    return ChaosReport(
        kiosks=kiosks, events_per_kiosk=events_per_kiosk, expected=expected, stored=len(held),
        lost=len(wanted - held), duplicated=sum(count - 1 for *_, count in rows) + len(held - wanted),
        redelivered=hq.stats.duplicates, broker_kills=broker_kills, kiosk_kills=kiosk_kills,
        link_cuts=proxy.cuts, seconds=round(seconds, 1), actions=actions)


def main() -> int:
    """``python -m testkit.chaos kiosk ...``: one chaos kiosk process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["kiosk"])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--kiosk", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--resend-after", type=float, default=2.0)
    args = parser.parse_args()
    return run_kiosk(args.broker, args.kiosk, args.db, args.count, args.rate, args.resend_after)


if __name__ == "__main__":
    sys.exit(main())
