"""HQ past one process: `kiosk hq serve --workers N` on one shared subscription and one
PostgreSQL, a worker killed mid-stream, and the store's guards for writers that are not alone."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import KioskLink, Outbox
from hq import ProfileStore
from kiosk_app.demo import free_port
from kiosk_protocol import ConsentStatus, EventKind, Hlc, TapEvent, encode_event, events_topic, new_event
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE, KIOSK = "madrid-centro", "kiosk-01"
KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}



def enqueue_views(outbox: Outbox, count: int) -> list[str]:
    ids = []
    session = uuid.uuid4()
    for _ in range(count):
        event_id = uuid.uuid4()
        ids.append(str(event_id))

        def payload(seq: int, event_id: uuid.UUID = event_id) -> bytes:
            return encode_event(new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=seq,
                                          session=session, shopper=None, sku="BOOT-1", event_id=event_id))

        outbox.enqueue(events_topic(STORE, KIOSK), payload)
    return ids


class Lines:
    """A process's output, line by line, as it comes."""

    def __init__(self, stream: Iterable[str]) -> None:
        self.seen: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: Iterable[str]) -> None:
        for line in stream:
            self._lines.put(line)

    def wait_for(self, text: str, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} in {''.join(self.seen)}")

    def rest(self, timeout_s: float = 30.0) -> str:
        """Everything, once the process has closed its output (call it after the process ended)."""
        self._reader.join(timeout_s)  # the last lines may still be in the pipe when it exits
        while not self._lines.empty():
            self.seen.append(self._lines.get())
        return "".join(self.seen)


def test_serve_runs_workers_sharing_one_subscription_and_survives_one_being_killed(
        mosquitto: Mosquitto, postgres_url: str, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    keys_file = tmp_path / "api-keys.json"
    keys_file.write_text(json.dumps(KEYS))
    port = free_port()
    hq = subprocess.Popen(
        [sys.executable, "-m", "kiosk_app", "hq", "serve", "--broker", mosquitto.url, "--db", postgres_url,
         "--hq-key", str(hq_key[1]), "--workers", "2", "--api-port", str(port), "--api-keys", str(keys_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert hq.stdout is not None
    output = Lines(hq.stdout)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    link = KioskLink(mosquitto.url, STORE, KIOSK, outbox)
    store = ProfileStore(postgres_url)
    try:
        ready = output.wait_for("HQ ingest ready")
        pids = [int(pid) for pid in re.findall(r"\d+", ready.split("pids")[1])]
        assert len(pids) == 2 and hq.pid not in pids
        output.wait_for("HQ API on")
        ids = enqueue_views(outbox, 150)
        link.start()
        assert eventually(lambda: store.event_count() == 150 and len(outbox) == 0)
        os.kill(pids[0], signal.SIGKILL)  # a worker dies; the other goes on, and it comes back
        ids += enqueue_views(outbox, 150)
        output.wait_for("restarting it")
        assert eventually(lambda: store.event_count() == 300 and len(outbox) == 0)
        assert all(store.has_event(i) for i in ids)

        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as api:
            assert api.get("/v1/health").json()["status"] == "ok"
            fleet = api.get("/fleet/api/kiosks", headers={"X-Api-Key": KEYS["hq"]}).json()["kiosks"]
            assert [(k["store"], k["kiosk"], k["state"]) for k in fleet] == [(STORE, KIOSK, "online")]
    finally:
        link.stop()
        hq.send_signal(signal.SIGTERM)
        hq.wait(30)
        store.close()
    stopped = output.rest()
    assert hq.returncode == 0, stopped
    stored = [int(n) for n in re.findall(r"stored=(\d+)", stopped.split("HQ ingest stopped:")[1])]
    assert len(stored) == 2 and all(n > 0 for n in stored), stopped  # both worked after the restart


def test_a_view_racing_a_consent_on_another_worker_stays_in_the_profile(postgres_url: str) -> None:
    first, second = ProfileStore(postgres_url), ProfileStore(postgres_url)  # two workers' stores
    session, shopper = uuid.uuid4(), "shopper-0042"

    def view(seq: int, sku: str) -> TapEvent:
        return new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=seq, session=session,
                         shopper=None, sku=sku)

    first.record(view(1, "BOOT-1"))
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as blocker:
            # Hold the session's profile row, so the second worker's batch stops after it has
            # looked up the session's link (none yet) and before it commits.
            blocker.execute(sa.text("SELECT 1 FROM profiles WHERE profile_key = :key FOR UPDATE"),
                            {"key": f"session:{session}"})
            racing = threading.Thread(target=second.record, args=(view(3, "BAG-2"),))
            racing.start()
            assert eventually(lambda: _waiting_on_a_lock(engine) == 1, 10)  # there, and held
            assert racing.is_alive()
            first.record(new_event(kind=EventKind.CONSENT, store=STORE, kiosk=KIOSK, seq=2, session=session,
                                   shopper=shopper, consent=ConsentStatus.GRANTED, hlc=str(Hlc(1, 0, KIOSK))))
        racing.join(10)
        skus = [e.sku for e in first.profile(shopper).history if e.sku]
        assert skus == ["BOOT-1", "BAG-2"]
        assert first.erase(shopper) == 3
        assert first.event_count() == 0  # the straggler goes with the erase too
    finally:
        engine.dispose()
        first.close()
        second.close()


def _waiting_on_a_lock(engine: sa.Engine) -> int:
    """How many of the test database's sessions wait for a lock another one holds."""
    with engine.connect() as db:
        return int(db.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event_type = 'Lock'")).scalar_one())


@pytest.mark.parametrize("attempt", range(3))
def test_workers_starting_together_on_a_fresh_database_all_come_up(postgres_url: str, attempt: int) -> None:
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            ProfileStore(postgres_url).close()
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
