"""Errors raised by backend_sync.

SyncError
 ├── ContractError   a payload that is not a message of the wire contract
 │    └── MessageTooLarge   larger than its kind's limit: refused before decoding
 ├── CatalogError    a catalog file that cannot be used
 ├── CardRefused     a shopper card HQ will not answer for
 ├── OutboxFull      the outbox is at its bound and the event may not be dropped
 └── OutboxUnavailable  the outbox's storage refused a write (a full disk, an I/O error)
"""


class SyncError(Exception):
    """Base of every error backend_sync raises."""


class ContractError(SyncError):
    """A payload of unknown version or shape."""


class MessageTooLarge(ContractError):
    """A payload larger than its message kind may be, refused before it is decoded."""


class CatalogError(SyncError):
    """A catalog file that is missing, malformed or inconsistent."""


class CardRefused(SyncError):
    """A card token that is forged, expired, or not a shopper's."""


class OutboxFull(SyncError):
    """The outbox holds as many events as it may."""


class OutboxUnavailable(SyncError):
    """The outbox could not write: ``disk_full`` when there is no space left on its disk."""

    def __init__(self, message: str, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full
