"""Errors raised by the protocol kiosks and HQ share, one tree under SyncError.

SyncError
 ├── ContractError   a payload that is not a message of the wire contract
 │    └── MessageTooLarge   larger than its kind's limit: refused before decoding
 ├── CatalogError    a catalog file that cannot be used
 ├── CardRefused     a shopper card HQ will not answer for
 ├── TokenError      a card or badge token is forged, expired or malformed (or HQ's key is not one)
 └── UpdateRefused   a signed update the kiosk will not apply (``_manifest``)
     (and the kiosk's outbox errors, ``backend_sync.exceptions``)
"""


class SyncError(Exception):
    """Base of every error of the sync between kiosks and HQ."""


class ContractError(SyncError):
    """A payload of unknown version or shape."""


class MessageTooLarge(ContractError):
    """A payload larger than its message kind may be, refused before it is decoded."""


class CatalogError(SyncError):
    """A catalog file that is missing, malformed or inconsistent."""


class CardRefused(SyncError):
    """A card token that is forged, expired, or not a shopper's."""


class TokenError(SyncError):
    """A signed card or badge token that must not be trusted."""
