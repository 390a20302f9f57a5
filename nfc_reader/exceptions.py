"""Errors raised by nfc_reader, and the codes they carry (a bad card token is
``kiosk_protocol.TokenError``).

NfcReaderError
 ├── ReaderUnavailable   no reader at the path, or it cannot be opened (``.problem``, ``.hint``)
 ├── NoTagPresented      no tag came near the reader in time
 ├── TagDecodeError      a tag's content is not something a store tag carries
 ├── TagWriteError       a tag refused or lost a write (``.refusal``)
 ├── WriteAlreadyPending a reader was asked to write a tag while an earlier write was unfinished
 ├── UidTableError       the UID -> SKU table file cannot be read or is invalid
 └── EmulatorError       the tag simulator cannot serve (its udp port is taken)
"""

from __future__ import annotations

import enum


class ReaderProblem(enum.Enum):
    """Why a reader is offline."""

    NOT_FOUND = "not_found"  # nothing at the path (nothing plugged in, wrong path)
    PERMISSION = "permission"  # the device is there but this user may not open it
    BUSY = "busy"  # another process or a kernel driver holds it
    UNPLUGGED = "unplugged"  # it was working and went away
    BAD_PATH = "bad_path"  # the path is not one nfcpy understands
    FAILED = "failed"  # anything else the device or its driver reported


class WriteRefusal(enum.Enum):
    """Why a tag was not (or not correctly) written."""

    NOT_NDEF = "not_ndef"  # the tag is not NDEF formatted
    READ_ONLY = "read_only"
    TOO_SMALL = "too_small"
    LOST = "lost"  # the tag left, or stopped answering, during the write
    VERIFY_FAILED = "verify_failed"  # what was read back is not what was written


class NfcReaderError(Exception):
    """Base of every error nfc_reader raises."""


class ReaderUnavailable(NfcReaderError):
    """The reader path names no usable device.

    ``problem`` says why, ``hint`` what an administrator can do about it (may be empty).
    """

    def __init__(self, message: str, problem: ReaderProblem, hint: str = "") -> None:
        super().__init__(message)
        self.problem = problem
        self.hint = hint


class NoTagPresented(NfcReaderError):
    """No tag was held to the reader before the timeout."""


class TagDecodeError(NfcReaderError):
    """Tag content that cannot be turned into a TagRead."""


class TagWriteError(NfcReaderError):
    """A tag that cannot take, or did not keep, what was written; ``refusal`` says which."""

    def __init__(self, message: str, refusal: WriteRefusal) -> None:
        super().__init__(message)
        self.refusal = refusal


class WriteAlreadyPending(NfcReaderError):
    """``TagReader.write_next`` while an earlier write has not finished (cancel it first)."""


class UidTableError(NfcReaderError):
    """The UID -> SKU table file is unreadable or holds invalid entries."""


class EmulatorError(NfcReaderError):
    """The tag simulator cannot serve on its udp port."""
