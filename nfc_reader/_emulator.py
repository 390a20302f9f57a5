"""A simulated product tag, card or badge: an NFC Forum Type 3 tag emulated over
nfcpy's ``udp`` driver, read (and written) by the kiosk through the very same nfcpy code
path as a USB reader.

The tag has real Type 3 memory: an attribute block and an NDEF data area of
``capacity`` bytes. A reader's writes change ``memory`` as they would a real tag's;
a ``read_only`` tag says so in its attribute block and refuses writes. A tag can also
be blank (formatted, empty), unformatted (no NDEF at all: readers know it by its UID
only), flaky (its first reads fail) or pulled away halfway through a read.

The emulator holds its udp port from creation to ``close``: a reader's field is always
on, and its poll that reaches a tag out of the field waits in the socket and is answered
the moment the tag enters it, as a real tag answers the next poll. Several emulators run
side by side on different ports.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import nfc
import nfc.clf
import nfc.tag

from nfc_reader._type3_memory import BLOCK, default_idm, ndef_in_memory, type3_memory
from nfc_reader._udp_tag_side import TagSideUdp
from nfc_reader.exceptions import EmulatorError

log = logging.getLogger(__name__)

_NDEF_SERVICE_RW = 0x0009
_NDEF_SERVICE_RO = 0x000B
# PMm with all-FF timing bytes tells the reader to allow the longest response times.
_PMM = bytes.fromhex("FFFFFFFFFFFFFFFF")
_NDEF_SYSTEM_CODE = bytes.fromhex("12FC")
# A lifted tag stays out of the field this long: longer than a reader's same-tap holdoff
# (TapPolicy.repeat_holdoff_s), so that the next tap counts as a new one even for the
# same tag.
DEFAULT_LIFT_S = 0.4
# Between two waits for the reader's next command, so that leaving on time does not
# hang on a reader that has gone quiet.
_POLL_S = 0.05
_POLLING_COMMAND = 0x00


@dataclass(frozen=True)
class TapTiming:
    """When things happened during one tap, on ``time.perf_counter``'s clock.

    ``presented_at``: the tag entered the field (the emulator was listening).
    ``activated_at``: the reader sent its first command after its poll was answered.
    ``read_at``: the reader had read the whole NDEF message. ``lifted_at``: the tag left.
    """

    presented_at: float
    activated_at: float | None
    read_at: float | None
    lifted_at: float


@dataclass
class _Presence:
    """One tag's time in the field: what the reader has read and written, and when."""

    last_needed_block: int
    hold_s: float
    leave_after_reads: int | None
    leave_after_writes: int | None = None
    activated_at: float | None = None
    read_at: float | None = None
    # Monotonic times: the message read in full, the last write. A writer keeps the tag
    # in the field; a reader reading it again (a held tag counted again) does not.
    done_at: float | None = None
    last_write_at: float = -math.inf
    reads_served: int = 0
    writes_served: int = 0
    pulled_away: bool = False

    @property
    def read_done(self) -> bool:
        return self.done_at is not None

    def leave_at(self) -> float:
        if self.pulled_away:
            return 0.0
        if self.done_at is None:
            return math.inf
        return max(self.done_at, self.last_write_at) + self.hold_s


class TagEmulator:
    """One virtual Type 3 tag on a udp port; ``tap`` presents it to whichever reader polls.

    ``capacity`` is the NDEF data area in bytes (rounded up to 16), ``read_only`` makes
    the tag refuse writes, ``lift_s`` is how long a tap keeps the tag away afterwards.
    A flaky tag, as at the edge of the field: ``flaky_reads`` block reads fail before it
    reads properly, and once read it leaves ``missed_polls`` polls (presence checks)
    unanswered. Taps are serialised.

    Raises:
        EmulatorError: the udp port is already taken (or cannot be bound).
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        *,
        capacity: int = 1024,
        read_only: bool = False,
        lift_s: float = DEFAULT_LIFT_S,
        flaky_reads: int = 0,
        missed_polls: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self.path = f"udp:{host}:{port}"
        self.capacity = capacity
        self.read_only = read_only
        self.lift_s = lift_s
        self.flaky_reads = flaky_reads
        self.missed_polls = missed_polls
        try:
            self._device = TagSideUdp(host, port)
        except OSError as exc:
            raise EmulatorError(f"cannot serve a tag on udp {host}:{port}: {exc}") from exc
        self._clf = nfc.ContactlessFrontend()
        self._clf.device = self._device
        self._lock = threading.RLock()
        self.idm = default_idm(b"")
        self.memory = type3_memory(b"", capacity, read_only)
        self.last_tap: TapTiming | None = None

    def close(self) -> None:
        """Release the udp port."""
        with self._lock:
            self._clf.close()

    @property
    def ndef_message(self) -> bytes | None:
        """The NDEF message the tag holds now (after any writes), or None if unformatted."""
        return ndef_in_memory(self.memory)

    def load(self, message: bytes | None, idm: bytes | None = None) -> None:
        """Put ``message`` on the tag (None: an unformatted tag without NDEF), with UID ``idm``.

        Raises:
            ValueError: the message exceeds the capacity, or ``idm`` is not a Type 3 IDm.
        """
        idm = idm or default_idm(message)
        if len(idm) != 8 or idm[:2] == b"\x01\xfe":
            raise ValueError("a Type 3 tag's IDm is 8 bytes and does not start with 01FE (that means NFC-DEP)")
        with self._lock:
            self.memory = type3_memory(message, self.capacity, self.read_only)
            self.idm = bytes(idm)

    def tap(
        self,
        message: bytes | None,
        hold_s: float = 0.3,
        timeout_s: float = 5.0,
        idm: bytes | None = None,
        *,
        lift_s: float | None = None,
        leave_after_reads: int | None = None,
        leave_after_writes: int | None = None,
    ) -> bool:
        """Hold a tag carrying ``message`` to the reader until it has read it all.

        ``message`` None is a tag without NDEF. The tag stays in the field until
        ``hold_s`` after the reader has read it all or last wrote to it (a writer keeps
        it there), then is lifted for ``lift_s``, as a shopper's hand would. Its IDm
        (UID) is ``idm`` or derived from the message. ``leave_after_reads`` and
        ``leave_after_writes`` pull it away as the reader reads or writes that many
        blocks (the last one unanswered). Returns False if no reader read it all within
        ``timeout_s``, or it was pulled away.

        Raises:
            ValueError: the message exceeds the capacity, or ``idm`` is not a Type 3 IDm.
        """
        with self._lock:
            self.load(message, idm)
            return self.present(hold_s, timeout_s, lift_s=lift_s, leave_after_reads=leave_after_reads,
                                leave_after_writes=leave_after_writes)

    def present(
        self,
        hold_s: float = 0.3,
        timeout_s: float = 5.0,
        *,
        lift_s: float | None = None,
        leave_after_reads: int | None = None,
        leave_after_writes: int | None = None,
    ) -> bool:
        """Hold the tag as it is now (content, UID, earlier writes) to the reader; see ``tap``."""
        with self._lock:
            presence = _Presence(self._last_needed_block(), hold_s, leave_after_reads, leave_after_writes)
            self._device.entering_field = True
            presented_at = time.perf_counter()
            try:
                self._serve(presence, time.monotonic() + timeout_s)
            finally:  # the tag leaves the field: nothing answers the reader any more
                lifted_at = time.perf_counter()
                self.last_tap = TapTiming(presented_at, presence.activated_at, presence.read_at, lifted_at)
            time.sleep(self.lift_s if lift_s is None else lift_s)
            return presence.read_done and not presence.pulled_away

    def start_tap(self, message: bytes | None, hold_s: float = 0.3, timeout_s: float = 5.0,
                  idm: bytes | None = None, *, lift_s: float | None = None, leave_after_reads: int | None = None,
                  leave_after_writes: int | None = None) -> Future[bool]:
        """``tap`` on a background thread; the future holds its result."""
        return _in_background(lambda: self.tap(message, hold_s, timeout_s, idm, lift_s=lift_s,
                                               leave_after_reads=leave_after_reads,
                                               leave_after_writes=leave_after_writes))

    def start_present(self, hold_s: float = 0.3, timeout_s: float = 5.0, *,
                      lift_s: float | None = None) -> Future[bool]:
        """``present`` on a background thread; the future holds its result."""
        return _in_background(lambda: self.present(hold_s, timeout_s, lift_s=lift_s))

    def _last_needed_block(self) -> int:
        """The block whose read means the reader has the whole message (0: the attribute block)."""
        message = ndef_in_memory(self.memory)
        return math.ceil(len(message) / BLOCK) if message else 0

    def _serve(self, presence: _Presence, deadline: float) -> None:
        def end() -> float:
            return min(deadline, presence.leave_at())

        blocks = len(self.memory) // BLOCK

        def read_block(number: int, rb: bool, re: bool) -> bytes | None:
            if number >= blocks:
                return None
            if self.flaky_reads > 0:
                self.flaky_reads -= 1
                return None  # answered with an error status, as a badly coupled tag would
            presence.reads_served += 1
            if number == presence.last_needed_block and presence.done_at is None:
                presence.read_at, presence.done_at = time.perf_counter(), time.monotonic()
            if presence.leave_after_reads is not None and presence.reads_served >= presence.leave_after_reads:
                presence.pulled_away = True
            return bytes(self.memory[number * BLOCK : (number + 1) * BLOCK])

        def write_block(number: int, data: bytes, wb: bool, we: bool) -> bool:
            if self.read_only or number >= blocks:
                return False
            presence.writes_served += 1
            if presence.leave_after_writes is not None and presence.writes_served >= presence.leave_after_writes:
                presence.pulled_away = True  # gone before this block was written
                return False
            self.memory[number * BLOCK : (number + 1) * BLOCK] = data
            presence.last_write_at = time.monotonic()
            return True

        while (remaining := end() - time.monotonic()) > 0:
            # One listen for the whole window: a poll answered at the seam between two
            # shorter listens would leave the reader talking to a listener that forgot it.
            target = self._clf.listen(self._local_target(), remaining)
            if target is None:
                continue
            if presence.activated_at is None:
                presence.activated_at = time.perf_counter()
            tag = nfc.tag.emulate(self._clf, target)
            tag.add_service(_NDEF_SERVICE_RW, read_block, write_block)
            tag.add_service(_NDEF_SERVICE_RO, read_block, None)
            self._exchange(tag, presence, end)

    def _exchange(self, tag: nfc.tag.TagEmulation, presence: _Presence, end: Callable[[], float]) -> None:
        def process(command: bytearray) -> bytearray | None:
            if presence.read_done and self.missed_polls > 0 and len(command) > 1 and command[1] == _POLLING_COMMAND:
                self.missed_polls -= 1
                return None  # a wobbling tag misses the reader's presence check
            return _process(tag, command)

        response = process(tag.cmd)
        while time.monotonic() < end():
            try:
                command = tag.send_response(response, timeout=max(0.001, min(_POLL_S, end() - time.monotonic())))
            except nfc.clf.BrokenLinkError:
                return  # the reader switched its field off; the tag listens for the next poll
            except nfc.clf.TimeoutError:
                response = None
                continue
            except nfc.clf.CommunicationError as exc:
                log.debug("emulated tag: %s", exc)
                response = None
                continue
            response = process(command) if command else None
        if response is not None and not presence.pulled_away:
            try:
                tag.send_response(response, timeout=0)  # answer the last command before leaving
            except nfc.clf.CommunicationError as exc:
                log.debug("emulated tag: %s", exc)

    def _local_target(self) -> nfc.clf.LocalTarget:
        target = nfc.clf.LocalTarget("212F")
        target.sensf_res = b"\x01" + self.idm + _PMM + _NDEF_SYSTEM_CODE
        return target


def _process(tag: nfc.tag.TagEmulation, command: bytearray) -> bytearray | None:
    """nfcpy's answer to a reader command; a malformed command gets no answer, as from a real tag."""
    try:
        response: bytearray | None = tag.process_command(command)
    except (IndexError, ValueError, KeyError, struct.error) as exc:
        log.debug("emulated tag ignores a malformed command %s: %s", bytes(command).hex(), exc)
        return None
    return response


def _in_background(work: Callable[[], bool]) -> Future[bool]:
    future: Future[bool] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, name="tag-emulator", daemon=True).start()
    return future
