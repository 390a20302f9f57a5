"""Tags over nfcpy's udp driver: an emulated Type 3 tag on a free port, and a started
``TagReader`` that collects what it reads and reports."""

from __future__ import annotations

import queue
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from kiosk_app.demo import free_port
from nfc_reader import ReaderStatus, TagEmulator, TagRead, TagReader


@contextmanager
def emulated_tag() -> Iterator[TagEmulator]:
    """An emulated Type 3 tag on a free udp port, closed afterwards."""
    tag = TagEmulator(free_port(socket.SOCK_DGRAM))
    try:
        yield tag
    finally:
        tag.close()


class Reader:
    """A started TagReader and what it hands out."""

    def __init__(self, path: str | None, **options: object) -> None:
        self.reads: queue.Queue[TagRead] = queue.Queue()
        self.statuses: queue.Queue[ReaderStatus] = queue.Queue()
        self.reader = TagReader(path, self.reads.put, self.statuses.put, **options)  # type: ignore[arg-type]
        self.reader.start()

    def next_read(self) -> TagRead:
        """The next read, waiting up to 5 s for it."""
        return self.reads.get(timeout=5)

    def next_status(self) -> ReaderStatus:
        """The next reader status, waiting up to 5 s for it."""
        return self.statuses.get(timeout=5)

    def no_more_reads(self) -> bool:
        """Nothing read that was not taken yet."""
        return self.reads.empty()

    def stop(self) -> None:
        """Stop the reader without waiting for its thread."""
        # On udp the thread may sit out its current one-second poll, and it releases the
        # device by itself when that ends.
        self.reader.stop(timeout_s=0)
