"""A simulated product tag, card or badge: an NFC Forum Type 3 tag emulated over
nfcpy's ``udp`` driver, read by the kiosk through the very same nfcpy code path as a
USB reader.
"""

from __future__ import annotations

import hashlib
import logging
import math
import struct
import threading
import time

import nfc
import nfc.clf
import nfc.tag

log = logging.getLogger(__name__)

_BLOCK = 16
_NDEF_SERVICE_RW = 0x0009
_NDEF_SERVICE_RO = 0x000B
# PMm with all-FF timing bytes tells the reader to allow the longest response times.
_PMM = bytes.fromhex("FFFFFFFFFFFFFFFF")
_NDEF_SYSTEM_CODE = bytes.fromhex("12FC")
# A lifted tag stays out of the field this long, well past the reader's presence poll,
# so that the next tap counts as a new one even for the same tag.
_LIFT_S = 0.15


def type3_memory(message: bytes, capacity: int = 1024) -> bytearray:
    """Tag memory: the Type 3 attribute block followed by the NDEF data area."""
    if len(message) > capacity:
        raise ValueError(f"message of {len(message)} bytes exceeds capacity {capacity}")
    blocks = math.ceil(capacity / _BLOCK)
    attribute = bytearray(_BLOCK)
    attribute[0] = 0x10  # mapping version 1.0
    attribute[1] = 4  # blocks per read
    attribute[2] = 1  # blocks per write
    attribute[3:5] = struct.pack(">H", blocks)
    attribute[10] = 0x01  # read/write
    attribute[11:14] = struct.pack(">I", len(message))[1:]
    attribute[14:16] = struct.pack(">H", sum(attribute[:14]))
    return attribute + bytearray(message) + bytearray(blocks * _BLOCK - len(message))


class TagEmulator:
    """One virtual tag on a udp port; ``tap`` presents it to whichever reader polls.

    Several emulators can run side by side on different ports. Taps are serialised.
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.path = f"udp:{host}:{port}"
        self.idm = bytes(8)
        self._clf = nfc.ContactlessFrontend(self.path)
        self._lock = threading.Lock()
        self.memory = type3_memory(b"")

    def close(self) -> None:
        """Release the udp port."""
        with self._lock:
            self._clf.close()

    def tap(self, message: bytes, hold_s: float = 0.3, timeout_s: float = 5.0, idm: bytes | None = None) -> bool:
        """Hold a tag carrying ``message`` to the reader until it has read it all.

        The tag stays in the field for ``hold_s`` after the read, then is lifted, as a
        shopper's hand would. Its IDm (UID) is ``idm`` or derived from the message, so
        different tags have different UIDs. Returns False if no reader read it within
        ``timeout_s``.
        """
        with self._lock:
            self.idm = idm or bytes.fromhex("02FE") + hashlib.sha256(message).digest()[:6]
            self.memory = type3_memory(message)
            return self._serve(last_block=max(1, math.ceil(len(message) / _BLOCK)), hold_s=hold_s, timeout_s=timeout_s)

    def _serve(self, last_block: int, hold_s: float, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        read_done = threading.Event()

        def read_block(number: int, rb: bool, re: bool) -> bytes | None:
            if number == last_block:
                read_done.set()
            if number < len(self.memory) // _BLOCK:
                return bytes(self.memory[number * _BLOCK : (number + 1) * _BLOCK])
            return None

        def write_block(number: int, data: bytes, wb: bool, we: bool) -> bool:
            if number < len(self.memory) // _BLOCK:
                self.memory[number * _BLOCK : (number + 1) * _BLOCK] = data
                return True
            return False

        while not read_done.is_set() and time.monotonic() < deadline:
            # One listen for the whole window: a poll answered at the seam between two
            # shorter listens would leave the reader talking to a listener that forgot it.
            target = self._clf.listen(self._local_target(), deadline - time.monotonic())
            if target is None:
                continue
            tag = nfc.tag.emulate(self._clf, target)
            tag.add_service(_NDEF_SERVICE_RW, read_block, write_block)
            tag.add_service(_NDEF_SERVICE_RO, read_block, None)
            self._exchange(tag, read_done, hold_s, deadline)
        self._clf.device.mute()  # the tag leaves the field
        time.sleep(_LIFT_S)
        return read_done.is_set()

    @staticmethod
    def _exchange(tag: nfc.tag.TagEmulation, read_done: threading.Event, hold_s: float, deadline: float) -> None:
        response = tag.process_command(tag.cmd)
        leave_at = deadline
        while time.monotonic() < leave_at:
            if read_done.is_set():
                leave_at = min(leave_at, time.monotonic() + hold_s)
            try:
                command = tag.send_response(response, timeout=max(0.01, leave_at - time.monotonic()))
            except nfc.clf.BrokenLinkError:
                return  # the reader switched its field off
            except nfc.clf.TimeoutError:
                response = None
                continue
            except nfc.clf.CommunicationError as exc:
                log.debug("emulated tag: %s", exc)
                response = None
                continue
            response = tag.process_command(command) if command else None

    def _local_target(self) -> nfc.clf.LocalTarget:
        target = nfc.clf.LocalTarget("212F")
        target.sensf_res = b"\x01" + self.idm + _PMM + _NDEF_SYSTEM_CODE
        return target
