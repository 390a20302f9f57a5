"""nfcpy's udp driver on the tag's side of the field, for the tag emulator."""

from __future__ import annotations

import platform
import socket
import time

import nfc.clf
import nfc.clf.udp

from nfc_reader.exceptions import EmulatorError


class TagSideUdp(nfc.clf.udp.Device):
    """nfcpy's udp driver on the tag's side, keeping its port bound until closed.

    nfcpy's listen() first mutes the device, which for udp closes the socket and drops
    whatever a reader sent meanwhile: a reader that switches its field off and polls
    again (after a failed read, or a presence check that failed under load) would lose
    that poll and wait a full second. A tag cannot switch a field off, so here muting
    does nothing and the socket is bound once. While the tag is away, what readers send
    waits in the socket; when it enters the field it answers only the latest poll (the
    one a reader is waiting on) and drops the rest, so how chatty a reader was meanwhile
    costs nothing. And where nfcpy's listen waits at least half a second for a reader,
    this one stops at its deadline, so a tag leaves on time.
    """

    socket: socket.socket | None
    addr: tuple[str, int]
    _listen_until: float | None = None
    entering_field = False

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self._path = f"udp:{host}:{port}"
        self._vendor_name, self._device_name, self._chipset_name = platform.uname()[0], "Tag simulator", "UDP"
        if not super()._bind_socket(time.time() + 1.0):
            self.close()
            raise EmulatorError(f"udp port {port} is in use (another tag simulator on {host}:{port}?)")

    def mute(self) -> None:
        """A tag has no field to switch off; leaving the field is not answering."""

    def close(self) -> None:
        """Release the udp port."""
        if self.socket is not None:
            self.socket.close()
            self.socket = None

    def listen_ttf(self, target: nfc.clf.LocalTarget, timeout: float) -> nfc.clf.LocalTarget | None:
        """Wait up to ``timeout`` for a reader; entering the field, answer the latest poll waiting."""
        self._listen_until = time.time() + timeout
        try:
            latest_poll = self._drain_keeping_latest_poll() if self.entering_field else None
            self.entering_field = False
            if latest_poll is None:
                return super().listen_ttf(target, timeout)
            return self._listen_ttf(target, self._listen_until, latest_poll)
        finally:
            self._listen_until = None

    def _drain_keeping_latest_poll(self) -> tuple[str, bytearray, tuple[str, int]] | None:
        latest = None
        if self.socket is None:
            return None
        self.socket.setblocking(False)
        try:
            while True:
                try:
                    data, addr = self.socket.recvfrom(1024)
                except BlockingIOError:
                    return latest
                brty, _, payload = data.partition(b" ")
                try:
                    frame = bytearray(bytes.fromhex(payload.decode("ascii")))
                except ValueError:
                    continue
                if brty in (b"212F", b"424F") and len(frame) > 1 and frame[0] == len(frame) and frame[1] == 0x00:
                    latest = (brty.decode(), frame, addr)
        finally:
            self.socket.setblocking(True)

    def _recv_data(self, timeout: float | None, *brty_list: str) -> tuple[str, bytearray, tuple[str, int]]:
        if self._listen_until is not None and timeout is not None:
            timeout = min(timeout, max(0.0, self._listen_until - time.time()))
        return super()._recv_data(timeout, *brty_list)

    def _bind_socket(self, time_to_return: float) -> bool:
        if self.socket is not None and self.socket.getsockname()[1] == self.addr[1]:
            return True  # bound since creation
        return bool(super()._bind_socket(time_to_return))
