"""Errors raised by the kiosk's side of the sync; each a ``kiosk_protocol.SyncError``.

SyncError
 ├── OutboxFull      the outbox is at its bound and the event may not be dropped
 └── OutboxUnavailable  the outbox's storage refused a write (a full disk, an I/O error)
"""

from kiosk_protocol import SyncError


class OutboxFull(SyncError):
    """The outbox holds as many events as it may."""


class OutboxUnavailable(SyncError):
    """The outbox could not write: ``disk_full`` when there is no space left on its disk."""

    def __init__(self, message: str, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full
