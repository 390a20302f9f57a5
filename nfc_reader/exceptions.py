"""Errors raised by nfc_reader.

NfcReaderError
 ├── ReaderUnavailable   no reader at the path, or it cannot be opened
 ├── TagDecodeError      a tag's content is not something a store tag carries
 └── TokenError          a card or badge token is forged, expired or malformed
"""


class NfcReaderError(Exception):
    """Base of every error nfc_reader raises."""


class ReaderUnavailable(NfcReaderError):
    """The reader path names no usable device."""


class TagDecodeError(NfcReaderError):
    """Tag content that cannot be turned into a TagRead."""


class TokenError(NfcReaderError):
    """A signed card or badge token that must not be trusted."""
