"""Several ingest workers as processes, sharing one MQTT shared subscription and one database.

The broker hands each message of ``$share/<group>/kiosk/+/+/events`` to one worker of the
group; each worker stores with its own connections and acknowledges only what it has
stored. Nothing in a worker assumes it is alone: events are stored once by id whichever
worker gets them (or gets them again), and the store locks rows in one order. The same
holds for workers on other machines started with the same share group and database.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.synchronize
import queue
import signal
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.context import SpawnProcess

from hq._ingest import IngestStats, IngestWorker
from hq._store import ProfileStore
from hq.exceptions import ClusterError
from kiosk_protocol import CardVerifier

log = logging.getLogger(__name__)

# Spawned, not forked: the parent runs paho and database threads that a fork would copy mid-flight.
_CONTEXT = multiprocessing.get_context("spawn")


def run_ingest_worker(broker_url: str, db_url: str, worker_id: str, share_group: str, log_level: int,
                      ready: multiprocessing.synchronize.Event,
                      results: multiprocessing.Queue[tuple[str, dict[str, int]]],
                      verify_card: CardVerifier | None = None) -> None:
    """One worker process: ingest until SIGTERM, then report its stats on ``results``.

    ``verify_card`` must pickle (``kiosk_protocol.CardCheck`` does).
    """
    logging.basicConfig(level=log_level, format=f"%(asctime)s {worker_id} %(levelname)s %(name)s: %(message)s")
    # Stopped by a signal of its own, not a shared Event: a sibling killed while waiting
    # on a shared Event would leave it unable to ever be set.
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = ProfileStore(db_url)
    worker = IngestWorker(broker_url, store, worker_id=worker_id, share_group=share_group, verify_card=verify_card)
    worker.start()
    try:
        if worker.subscribed.wait(30):
            ready.set()
        stop.wait()
    finally:
        worker.stop()
        store.close()
        results.put((worker_id, asdict(worker.stats)))


@dataclass
class _Member:
    worker_id: str
    process: SpawnProcess
    ready: multiprocessing.synchronize.Event


class IngestCluster:
    """``count`` ingest worker processes of one share group; a worker that dies is restarted.

    A restarted worker keeps its id, so the broker resumes its session and redelivers what
    it had not acknowledged. ``broker_url`` is one URL for every worker or one per worker
    (its own credentials, for a broker that takes usernames as client ids). URLs reach
    the workers through a pipe, never their command lines.
    """

    def __init__(self, broker_url: str | Sequence[str], db_url: str, count: int, share_group: str = "hq",
                 worker_id: str = "hq-ingest", log_level: int = logging.WARNING,
                 verify_card: CardVerifier | None = None) -> None:
        if count < 1:
            raise ClusterError("an ingest cluster needs at least one worker")
        urls = [broker_url] * count if isinstance(broker_url, str) else list(broker_url)
        if len(urls) != count:
            raise ClusterError(f"{count} ingest workers need {count} broker URLs, not {len(urls)}")
        self.restarts = 0
        self._args = (db_url, share_group, log_level)
        self._verify_card = verify_card
        self._ids = [f"{worker_id}-{n}" for n in range(1, count + 1)]
        self._urls = dict(zip(self._ids, urls, strict=True))
        self._members: dict[str, _Member] = {}
        self._results: multiprocessing.Queue[tuple[str, dict[str, int]]] = _CONTEXT.Queue()
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="hq-ingest-supervisor", daemon=True)

    @property
    def pids(self) -> dict[str, int]:
        """Each worker's process id."""
        return {member.worker_id: member.process.pid or 0 for member in self._members.values()}

    def start(self, timeout_s: float = 60.0) -> None:
        """Start every worker and wait until each has subscribed.

        Raises:
            ClusterError: a worker did not subscribe in time.
        """
        # One process creates the schema first; the others then find it (the store also
        # guards against a race, for workers started on several machines at once).
        ProfileStore(self._args[0]).close()
        for worker_id in self._ids:
            self._launch(worker_id)
        for member in self._members.values():
            if not member.ready.wait(timeout_s):
                self.stop()
                raise ClusterError(f"ingest worker {member.worker_id} did not subscribe within {timeout_s:.0f} s")
        self._supervisor.start()

    def stop(self, timeout_s: float = 15.0) -> dict[str, IngestStats]:
        """Stop every worker (each acknowledges only what it stored); returns their stats."""
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join(5)  # no restart may race the stop
        for member in self._members.values():
            if member.process.is_alive():
                member.process.terminate()
        stats: dict[str, IngestStats] = {}
        for member in self._members.values():
            member.process.join(timeout_s)
            if member.process.is_alive():
                log.error("ingest worker %s did not stop; killing it", member.worker_id)
                member.process.kill()
                member.process.join(5)
        while True:
            try:
                worker_id, numbers = self._results.get(timeout=0.5)
            except queue.Empty:
                break
            stats[worker_id] = IngestStats(**numbers)
        return stats

    def _launch(self, worker_id: str) -> None:
        db_url, share_group, log_level = self._args
        ready = _CONTEXT.Event()
        process = _CONTEXT.Process(target=run_ingest_worker, name=worker_id, daemon=True,
                                   args=(self._urls[worker_id], db_url, worker_id, share_group, log_level, ready,
                                         self._results, self._verify_card))
        process.start()
        self._members[worker_id] = _Member(worker_id, process, ready)

    def _supervise(self) -> None:
        while not self._stopping.wait(1.0):
            for member in list(self._members.values()):
                if member.process.exitcode is not None and not self._stopping.is_set():
                    log.error("ingest worker %s exited (%s); restarting it", member.worker_id,
                              member.process.exitcode)
                    self.restarts += 1
                    self._launch(member.worker_id)
