"""A stand-in for systemd's notify socket: what a service started under ``NOTIFY_SOCKET`` tells it."""

from __future__ import annotations

import socket
import time
from pathlib import Path


class NotifySocket:
    """Every datagram a service sends to ``NOTIFY_SOCKET`` (this socket's ``path``), as text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        self._socket.setblocking(False)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        """The messages that arrived since the last drain (all of them are kept in ``messages``)."""
        arrived = []
        while True:
            try:
                arrived.append(self._socket.recv(4096).decode())
            except BlockingIOError:
                self.messages += arrived
                return arrived

    def wait_for(self, prefix: str, timeout_s: float = 60.0) -> str:
        """Block until a message starting with ``prefix`` arrives (or has); TimeoutError if none does."""
        deadline = time.monotonic() + timeout_s
        while not (found := [m for m in self.messages if m.startswith(prefix)]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {prefix!r} on {self.path}: {self.messages}")
            self._socket.settimeout(left)
            try:
                self.messages.append(self._socket.recv(4096).decode())
            except TimeoutError:
                pass
            finally:
                self._socket.setblocking(False)
        return found[0]

    def close(self) -> None:
        self._socket.close()
