"""The kiosk's durable outbox: every event is committed to SQLite before anything is
sent, and a row is deleted only once HQ's receipt says the event is stored.

The broker's PUBACK only marks a row *sent*: a broker killed before it saved the
message would otherwise lose it. A sent row with no receipt after a while is sent
again; HQ stores by event id, so a resend is never counted twice.

A damaged database file (truncated, emptied, not SQLite) is set aside under a name that
says so, never deleted, and a new outbox is started. Its sequence continues above
``sequence_floor``, the highest sequence HQ may hold for this kiosk (kept apart from the
outbox, see ``SequenceFloor``), so HQ never sees a sequence twice and a late receipt
cannot delete an event it does not speak of.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from backend_sync.exceptions import OutboxFull, OutboxUnavailable
from kiosk_protocol import SyncError, private_file, write_atomically

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


_COMPANIONS = ("-wal", "-shm")


@dataclass(frozen=True)
class OutboxReset:
    """A damaged outbox file found at start: where it was set aside, why, and where the sequence went on."""

    set_aside: Path
    reason: str
    continued_after: int

    def __str__(self) -> str:
        return (f"outbox damaged ({self.reason}); set aside as {self.set_aside.name}, "
                f"new outbox continues after sequence {self.continued_after}")


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

    def __init__(self, path: str | Path, max_rows: int = 100_000, sequence_floor: int = 0) -> None:
        self.max_rows = max_rows
        self.dropped = 0
        # Set when a damaged file was found at start and put aside (None: the outbox was sound).
        self.reset: OutboxReset | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        path = Path(path)
        try:
            self._db = _open(path)
        except _Damaged as damage:
            aside = _set_aside(path)
            self._db = _open(path)
            self.reset = OutboxReset(aside, str(damage), max(sequence_floor, 0))
            log.error("%s", self.reset)
        try:
            self.continue_after(sequence_floor)
        except OutboxUnavailable as exc:  # a full disk at start: HQ's next receipt moves it on (see KioskLink)
            log.error("outbox sequence not moved past %d: %s", sequence_floor, exc)

    def enqueue(self, topic: str, make_payload: Callable[[int], bytes], droppable: bool = False) -> int:
        """Commit one message; ``make_payload`` gets the message's sequence number.

        The sequence is the row id: it only grows, across restarts too.

        Raises:
            OutboxFull: the outbox is full of undroppable messages and this one is droppable.
            OutboxUnavailable: the disk is full or refused the write; nothing was kept.
        """
        with self._lock, self._writing():
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
                self._rollback()
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

    def continue_after(self, seq: int) -> None:
        """Give out only sequences above ``seq`` from now on (HQ may hold ``seq``); never moves back."""
        if seq <= 0:
            return
        with self._lock, self._writing():
            current = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            if current is not None and int(current[0]) >= seq:
                return
            if current is None:  # a new outbox: its table has given out nothing yet
                self._db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (seq,))
            else:
                self._db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (seq,))
        log.info("outbox sequence continues after %d", seq)

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
        with self._lock, self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                changed = self._db.executemany(statement, rows).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return changed

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (SQLITE_FULL among them): a ROLLBACK
        # then fails with "no transaction is active" and would hide the real error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite's write errors as OutboxUnavailable, saying whether the disk is full."""
        try:
            yield
        except sqlite3.Error as exc:
            full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            raise OutboxUnavailable(f"the outbox cannot write: {exc}", disk_full=full) from exc

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


class SequenceFloor:
    """The highest outbox sequence HQ may hold for this kiosk, in a small file of its own.

    Raised before a message is first published and whenever a receipt names a higher
    one (receipts carry the highest sequence HQ has stored for the kiosk), so a new
    outbox started after damage or loss continues above anything HQ has seen. A file
    that cannot be read counts as 0: HQ's next receipt raises it again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.value = _read_floor(path)
        self.write_failures = 0

    def raise_to(self, seq: int) -> None:
        """Remember ``seq`` if it is higher than what is kept; a failed write is logged and retried next time."""
        if seq <= self.value:
            return
        try:
            write_atomically(self.path, json.dumps({"seq": seq}).encode())
        except OSError as exc:
            self.write_failures += 1
            if self.write_failures == 1:  # once per streak: a full disk would repeat it every send
                log.warning("cannot keep the sequence floor in %s: %s", self.path, exc)
            return
        self.write_failures = 0
        self.value = seq


def _read_floor(path: Path) -> int:
    try:
        seq = json.loads(path.read_bytes())["seq"]
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("the sequence floor %s cannot be read (%s): HQ's next receipt restores it", path, exc)
        return 0
    return seq if isinstance(seq, int) and seq > 0 else 0


class _Damaged(SyncError):
    """The outbox file is not a sound SQLite database (the outbox sets it aside; this leaves
    ``Outbox`` only when the fresh file cannot be opened either)."""


def _open(path: Path) -> sqlite3.Connection:
    """The outbox database at ``path``, private to its owner and checked.

    Raises:
        _Damaged: the file is empty (with no write-ahead log to recover from) or unreadable.
    """
    wal = path.with_name(path.name + "-wal")
    if path.exists() and path.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise _Damaged("empty file")
    db = sqlite3.connect(str(private_file(path)), check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # a committed event survives power loss
        problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _Damaged("; ".join(problems))
        db.execute(_SCHEMA)
        db.execute("SELECT COUNT(*) FROM outbox").fetchone()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _Damaged(str(exc)) from exc
    except _Damaged:
        db.close()
        raise
    return db


def damaged_outboxes(path: Path) -> list[Path]:
    """Damaged outboxes set aside beside ``path``, oldest first (their -wal/-shm not listed)."""
    return sorted(p for p in path.parent.glob(f"{path.name}.damaged-*") if not p.name.endswith(_COMPANIONS))


def _set_aside(path: Path) -> Path:
    """Rename a damaged outbox (and its -wal/-shm) to ``<name>.damaged-<UTC time>``: kept, never deleted."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    path.rename(aside)
    for companion in _COMPANIONS:
        side = path.with_name(path.name + companion)
        if side.exists():
            side.rename(aside.with_name(aside.name + companion))
    return aside
