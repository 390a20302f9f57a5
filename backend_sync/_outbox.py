"""The kiosk's durable outbox: every event is committed to SQLite before anything is
sent, and a row is deleted only once HQ's receipt says the event is stored.

The broker's PUBACK only marks a row *sent*: a broker killed before it saved the
message would otherwise lose it. A sent row with no receipt after a while is sent
again; HQ stores by event id, so a resend is never counted twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from backend_sync.exceptions import OutboxFull

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    droppable INTEGER NOT NULL DEFAULT 0,
    sent_at REAL
)
"""


@dataclass(frozen=True)
class PendingMessage:
    """A committed message waiting for HQ's receipt."""

    seq: int
    topic: str
    payload: bytes


class Outbox:
    """A bounded, durable FIFO of outgoing messages.

    Policy when full: the oldest *droppable* message (an anonymous view) makes room and
    is counted in ``dropped``; messages that are not droppable (a consented shopper's
    events) are never dropped. If every row is undroppable, a droppable newcomer is
    refused and an undroppable one is still kept, past the bound, with a warning: the
    bound protects the disk from anonymous noise, never from a shopper's own history.
    """

    def __init__(self, path: str | Path, max_rows: int = 100_000) -> None:
        self.max_rows = max_rows
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed event survives power loss
        self._db.execute(_SCHEMA)
        self._changed = threading.Condition(self._lock)

    def enqueue(self, topic: str, make_payload: Callable[[int], bytes], droppable: bool = False) -> int:
        """Commit one message; ``make_payload`` gets the message's sequence number.

        The sequence is the row id: it only grows, across restarts too.

        Raises:
            OutboxFull: the outbox is full of undroppable messages and this one is droppable.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._count() >= self.max_rows and not self._drop_oldest_droppable():
                    if droppable:
                        raise OutboxFull(f"outbox holds {self.max_rows} messages none of which may be dropped")
                    log.warning("outbox past its bound of %d: keeping a shopper's event anyway", self.max_rows)
                seq = self._db.execute(
                    "INSERT INTO outbox (topic, payload, droppable) VALUES (?, x'', ?)", (topic, droppable)
                ).lastrowid
                assert seq is not None
                self._db.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (make_payload(seq), seq))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._changed.notify_all()
            return seq

    def pending(self, limit: int = 1000) -> list[PendingMessage]:
        """Every message still waiting for a receipt, oldest first."""
        return self._select("SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?", (limit,))

    def due(self, resend_after_s: float, exclude: Collection[int] = (), limit: int = 100,
            now: float | None = None) -> list[PendingMessage]:
        """Messages to send now: never sent, or sent ``resend_after_s`` ago with no receipt.

        ``exclude`` names messages already on their way.
        """
        cutoff = (time.time() if now is None else now) - resend_after_s
        excluded = ",".join(str(int(seq)) for seq in exclude)
        return self._select(
            f"SELECT seq, topic, payload FROM outbox WHERE (sent_at IS NULL OR sent_at <= ?) "
            f"AND seq NOT IN ({excluded}) ORDER BY seq LIMIT ?",
            (cutoff, limit),
        )

    def mark_sent(self, seqs: Iterable[int], now: float | None = None) -> None:
        """The broker has these messages (PUBACK); keep them until HQ's receipt."""
        sent_at = time.time() if now is None else now
        self._batch("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(sent_at, seq) for seq in seqs])

    def acknowledge(self, seqs: Iterable[int]) -> int:
        """Forget messages HQ has stored; returns how many were still here."""
        deleted = self._batch("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])
        self.wake()
        return deleted

    def last_sequence(self) -> int:
        """The highest sequence ever given out (0 for a new outbox)."""
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return int(row[0]) if row else 0

    def wait_for_change(self, timeout_s: float) -> None:
        """Block until a message is added or acknowledged, or the timeout passes."""
        with self._lock:
            self._changed.wait(timeout_s)

    def wake(self) -> None:
        """Wake whoever waits for a change (a sender with news of its own)."""
        with self._lock:
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _batch(self, statement: str, rows: list[tuple[float | int, ...]]) -> int:
        """Run ``statement`` for every row in one transaction (one fsync, not one per row)."""
        if not rows:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                changed = self._db.executemany(statement, rows).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return changed

    def _select(self, query: str, parameters: tuple[float | int, ...]) -> list[PendingMessage]:
        with self._lock:
            rows = self._db.execute(query, parameters).fetchall()
        return [PendingMessage(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def _drop_oldest_droppable(self) -> bool:
        dropped = self._db.execute(
            "DELETE FROM outbox WHERE seq = (SELECT MIN(seq) FROM outbox WHERE droppable = 1)"
        ).rowcount
        self.dropped += dropped
        return dropped > 0

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
