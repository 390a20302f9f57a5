"""The reader loop: opens an nfcpy device by path, turns each tap into one TagRead,
and keeps trying, with backoff, when the reader is missing, not allowed or unplugged.
For staff it can also write the next tag presented instead of reading it. How a tap is
counted and read (policy, tracker, presence checks) is ``_taps``.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

import nfc
import nfc.clf
import nfc.tag

from nfc_reader._device import AUTO, classify_lost_error, is_auto, is_udp, open_frontend, targets_for
from nfc_reader._tagread import TagKind, TagRead
from nfc_reader._tagtools import WriteResult, identify_by_uid, no_tag_within, uid_of_target, write_to_tag
from nfc_reader._taps import Presence, TapPolicy, TapTracker, check_presence, read_counting_attempts
from nfc_reader._uidtable import UidTable
from nfc_reader.exceptions import ReaderProblem, ReaderUnavailable, TagWriteError, WriteAlreadyPending

log = logging.getLogger(__name__)


class ReaderState(enum.Enum):
    """Whether the reader can read taps."""

    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class ReaderStatus:
    """The reader's state and, when offline, why and what to do about it.

    ``path`` is the configured path (``auto`` when auto-detecting), ``device`` the
    reader actually opened. ``retry_in_s`` says when the next attempt to open it is.
    """

    state: ReaderState
    path: str
    reason: str = ""
    problem: ReaderProblem | None = None
    hint: str = ""
    retry_in_s: float | None = None
    device: str = ""


@dataclass
class ReaderCounters:
    """What the reader has seen, for staff mode and the kiosk's status."""

    taps: int = 0  # reads handed to on_read
    unreadable: int = 0  # of those, unreadable
    repeats_suppressed: int = 0  # a tag back within the holdoff: same tap, not counted again
    retried_reads: int = 0  # NDEF reads done again because one failed (or found nothing)
    incomplete: int = 0  # tags that left before they were read
    lifted: int = 0  # tags read (or written) and then seen leave the reader
    tag_errors: int = 0  # tags nfcpy could not handle at all
    callback_errors: int = 0  # on_read raised
    reader_failures: int = 0  # the reader failed while open (unplugged, ...)
    writes: int = 0  # tags written and read back for write_next (not taps)


class _Backoff:
    """Reconnect delays: ``first_s``, doubling up to ``max_s``; back to ``first_s`` once it works."""

    def __init__(self, first_s: float, max_s: float) -> None:
        self._first, self._max = first_s, max(first_s, max_s)
        self._next = first_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._max, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self._first


@dataclass
class _PendingWrite:
    """A write staff asked for: waiting for the next tag until the reader's thread claims it."""

    message: bytes
    timeout_s: float
    future: Future[WriteResult]
    claimed: bool = False  # by whoever resolves it: the reader's thread, the timeout or going offline


class TagReader:
    """Reads taps from the reader at ``path`` on its own thread.

    ``path`` is an nfcpy device path (``usb``, ``usb:072f:2200``, ``tty:USB0:pn532``,
    ``udp:127.0.0.1:54321``) or ``auto`` (also None or "") to use the first reader found.
    Each tap is handed once to ``on_read`` (on the reader's thread; see ``TapPolicy``).
    ``on_status`` hears ``online`` when the reader opens and ``offline`` with the reason
    and a hint each time it cannot be opened or fails; the reader then retries after
    ``retry_s``, doubling up to ``max_retry_s``. Tags without usable NDEF are looked up
    in ``uid_table``. Nothing a tag holds or does stops the thread. ``write_next`` writes
    the next tag presented instead of reading it (staff mode).
    """

    def __init__(
        self,
        path: str | None,
        on_read: Callable[[TagRead], None],
        on_status: Callable[[ReaderStatus], None] | None = None,
        retry_s: float = 2.0,
        *,
        max_retry_s: float = 30.0,
        policy: TapPolicy | None = None,
        uid_table: UidTable | None = None,
    ) -> None:
        self.path = AUTO if is_auto(path) else str(path).strip()
        self.policy = policy or TapPolicy()
        self.uid_table = uid_table
        self._on_read = on_read
        self._on_status = on_status or (lambda status: None)
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"nfc-reader {self.path}", daemon=True)
        self._counters = ReaderCounters()
        self._counters_lock = threading.Lock()
        self._tracker = TapTracker(self.policy)
        self._clf: nfc.ContactlessFrontend | None = None
        self.status: ReaderStatus | None = None
        # The UI thread asks for writes, the reader's thread does them, a timer ends them.
        self._write_lock = threading.Lock()
        self._write: _PendingWrite | None = None

    @property
    def counters(self) -> ReaderCounters:
        """A snapshot of what the reader has counted so far."""
        with self._counters_lock:
            return replace(self._counters)

    def start(self) -> None:
        """Start reading on a background thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Stop reading and release the device; a write still waiting for its tag is cancelled."""
        self._stop.set()
        self.cancel_write()
        self._thread.join(timeout_s)

    def write_next(self, message: bytes, timeout_s: float = 30.0) -> Future[WriteResult]:
        """Write ``message`` to the next tag presented within ``timeout_s`` and read it back.

        That tag is not handed to ``on_read``: it counts as held until lifted, then taps
        are read as before. A tag already on the reader must be lifted and presented again.
        The future gives the ``WriteResult`` or fails with ``TagWriteError`` (``refusal``:
        not NDEF, read-only, too small, lost, verify failed), ``NoTagPresented`` (nothing
        within ``timeout_s``) or ``ReaderUnavailable``: at once when the reader is offline
        or stopped, so staff are not left holding a tag to a reader that cannot write it,
        and as soon as the reader fails while the write waits or runs. Cancelling the
        future or ``cancel_write`` before a tag arrives gives the reader back to taps.
        The future completes on the reader's thread: its callbacks must be quick and hand
        their work to the UI thread.

        Raises:
            WriteAlreadyPending: an earlier write has not finished; cancel it first.
            ValueError: ``timeout_s`` is not positive.
        """
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        future: Future[WriteResult] = Future()
        with self._write_lock:  # offline and stop update the status first, then fail writes under this lock
            if self._write is not None and not self._write.future.done():
                raise WriteAlreadyPending("a tag write is still waiting for its tag; cancel it first")
            unavailable = self._why_no_write()
            if unavailable is not None:
                future.set_exception(unavailable)
                return future
            pending = self._write = _PendingWrite(bytes(message), timeout_s, future)
        timer = threading.Timer(timeout_s, self._expire_write, (pending,))
        timer.daemon = True
        timer.start()
        future.add_done_callback(lambda _: timer.cancel())
        return future

    def cancel_write(self) -> bool:
        """Give the reader back to taps; False if no write was waiting for a tag (none, or already under way)."""
        with self._write_lock:
            pending = self._write
        return pending is not None and not pending.future.done() and pending.future.cancel()

    def _why_no_write(self) -> ReaderUnavailable | None:
        if self._stop.is_set():
            return ReaderUnavailable("the reader is stopped", ReaderProblem.FAILED)
        status = self.status
        if status is not None and status.state is ReaderState.OFFLINE:
            return ReaderUnavailable(f"the reader is offline: {status.reason}", status.problem or ReaderProblem.FAILED,
                                     status.hint)
        return None

    def _claim_write(self, only: _PendingWrite | None = None) -> _PendingWrite | None:
        """Take the write waiting for a tag (``only`` that one), to resolve it; None if none or cancelled."""
        with self._write_lock:
            pending = self._write
            if pending is None or pending.claimed or (only is not None and pending is not only):
                return None
            pending.claimed = True
        # Once running, the future can no longer be cancelled; a cancelled one is not a write.
        return pending if pending.future.set_running_or_notify_cancel() else None

    def _expire_write(self, pending: _PendingWrite) -> None:
        claimed = self._claim_write(only=pending)
        if claimed is not None:
            claimed.future.set_exception(no_tag_within(claimed.timeout_s))

    def _fail_waiting_write(self, problem: ReaderUnavailable) -> None:
        claimed = self._claim_write()
        if claimed is not None:
            claimed.future.set_exception(problem)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._counters_lock:
            setattr(self._counters, name, getattr(self._counters, name) + amount)

    def _publish(self, status: ReaderStatus) -> None:
        self.status = status
        try:
            self._on_status(status)
        except Exception:  # a listener's bug must not stop the reader
            log.exception("reader status listener failed")

    def _offline(self, problem: ReaderUnavailable, backoff: _Backoff) -> None:
        delay = backoff.next_delay()
        log.warning("reader %s offline: %s (retry in %.1f s)", self.path, problem, delay)
        self._publish(ReaderStatus(ReaderState.OFFLINE, self.path, str(problem), problem.problem, problem.hint,
                                   delay))
        self._fail_waiting_write(ReaderUnavailable(f"the reader is offline: {problem}", problem.problem, problem.hint))
        self._stop.wait(delay)

    def _run(self) -> None:
        backoff = _Backoff(self._retry_s, self._max_retry_s)
        while not self._stop.is_set():
            try:
                clf, opened = open_frontend(self.path)
            except ReaderUnavailable as exc:
                self._offline(exc, backoff)
                continue
            except Exception as exc:  # the thread must outlive any surprise from a driver
                log.exception("opening reader %s failed unexpectedly", self.path)
                self._offline(ReaderUnavailable(f"cannot open the reader: {exc}", ReaderProblem.FAILED), backoff)
                continue
            self._clf = clf
            self._publish(ReaderStatus(ReaderState.ONLINE, self.path, device=str(clf)))
            try:
                self._read_taps(clf, opened, backoff)
            except Exception as exc:
                if not isinstance(exc, OSError | nfc.clf.Error):
                    log.exception("reader %s failed unexpectedly", self.path)
                self._count("reader_failures")
                self._tracker.forget()
                self._offline(classify_lost_error(opened, exc), backoff)
            finally:
                self._clf = None
                clf.close()

    def _read_taps(self, clf: nfc.ContactlessFrontend, opened: str, backoff: _Backoff) -> None:
        targets = [nfc.clf.RemoteTarget(brty) for brty in targets_for(opened)]
        pause = 0.0 if is_udp(opened) else self.policy.poll_interval_s
        while not self._stop.is_set():
            target = clf.sense(*targets, iterations=1)
            backoff.reset()  # the reader answers: the next failure starts over at retry_s
            if target is None:
                self._stop.wait(pause)
                continue
            self._handle_target(clf, target)

    def _handle_target(self, clf: nfc.ContactlessFrontend, target: nfc.clf.RemoteTarget) -> None:
        now = time.monotonic()
        try:
            tag = nfc.tag.activate(clf, target)
        except OSError:
            raise  # the reader, not the tag: reconnect
        except Exception:  # a tag that trips nfcpy's activation is still known by its UID
            log.warning("tag %s could not be activated", uid_of_target(target), exc_info=True)
            self._count("tag_errors")
            tag = None
        uid = bytes(tag.identifier).hex().upper() if tag is not None else uid_of_target(target)
        if self._tracker.is_repeat(uid, now):  # still the same tap: not read, not counted again
            self._tracker.seen(uid, now)
            if tag is not None:
                self._count("repeats_suppressed")
                self._wait_until_gone(tag, uid)
            else:  # no presence check without a tag object: look again shortly
                self._stop.wait(self.policy.presence_interval_s)
            return
        write = self._claim_write()
        if write is not None:
            self._write_tag(write, tag, uid)
            return
        try:
            if tag is None:  # a tag nfcpy cannot talk to (MIFARE Classic, ...): its UID is all we have
                read: TagRead | None = identify_by_uid(uid, None, self.uid_table)
            else:
                read, reads = read_counting_attempts(tag, self.uid_table, self.policy.read_attempts)
                self._count("retried_reads", reads - 1)
        except OSError:
            raise  # the reader, not the tag: reconnect
        except (nfc.tag.TagCommandError, nfc.clf.CommunicationError) as exc:
            if self._tracker.failed(uid) < self.policy.retry_reads:
                self._count("retried_reads")
                log.info("read of tag %s failed halfway (%s); reading it again", uid, exc)
                return
            read = TagRead.unreadable(uid, f"the tag did not answer reliably: {exc}")
        except Exception as exc:  # a tag that makes nfcpy trip must not stop the kiosk
            log.exception("tag %s could not be read", uid)
            self._count("tag_errors")
            read = TagRead.unreadable(uid, f"the tag could not be read ({type(exc).__name__})")
        if read is None:
            self._count("incomplete")
            log.info("tag %s left before it was read", uid)
            return
        self._deliver(read, uid)
        if tag is not None:
            self._wait_until_gone(tag, uid)

    def _write_tag(self, write: _PendingWrite, tag: nfc.tag.Tag | None, uid: str) -> None:
        """Do a staff write on the tag that just arrived; written or refused, it counts as held, not as a tap."""
        try:
            result = write_to_tag(tag, uid, write.message, self.uid_table)
        except TagWriteError as exc:
            write.future.set_exception(exc)
        except OSError as exc:  # the reader, not the tag: reconnect
            lost = classify_lost_error(self.path, exc)
            write.future.set_exception(ReaderUnavailable(
                f"{lost} during the write; the tag may hold a partial record: write it again", lost.problem, lost.hint))
            raise
        except Exception as exc:  # a tag that makes nfcpy trip must not stop the kiosk
            log.exception("tag %s could not be written", uid)
            self._count("tag_errors")
            write.future.set_exception(exc)
        else:
            self._count("writes")
            write.future.set_result(result)
        self._tracker.delivered_now(uid, time.monotonic())
        if tag is not None:
            self._wait_until_gone(tag, uid)

    def _deliver(self, read: TagRead, uid: str) -> None:
        self._tracker.delivered_now(uid, time.monotonic())
        self._count("taps")
        if read.kind is TagKind.UNREADABLE:
            self._count("unreadable")
        try:
            self._on_read(read)
        except Exception:
            self._count("callback_errors")
            log.exception("tap handler failed for %s", read)

    def _wait_until_gone(self, tag: nfc.tag.Tag, uid: str) -> None:
        held_since = time.monotonic()
        misses = 0
        while not self._stop.is_set():
            repeat = self.policy.held_repeat_s
            if repeat is not None and time.monotonic() - held_since >= repeat:
                self._tracker.forget()  # held long enough: the next sighting is a new tap
                return
            presence = check_presence(tag)
            if presence is Presence.THERE:
                misses = 0
                self._tracker.seen(uid, time.monotonic())
                self._stop.wait(self.policy.presence_interval_s)
                continue
            if presence is Presence.REPLACED:
                self._count("lifted")
                return  # another tag answered: this one is certainly gone
            misses += 1
            if misses >= self.policy.absent_checks:
                self._count("lifted")
                return
            # Check again at once: under load a late answer to the last check is often already waiting.
