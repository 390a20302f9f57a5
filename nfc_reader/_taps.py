"""One tap, one read: how taps are counted (``TapPolicy``), the memory of the last tap
that keeps a held tag from counting twice (``TapTracker``), reading a tag's NDEF again when
a busy machine misses it, and telling a lifted tag from a silent one.

Plain logic over nfcpy's tag objects; the reader loop (``_reader``) drives it.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import nfc.tag
import nfc.tag.tt3

from nfc_reader._ndef import decode_tag
from nfc_reader._tagread import TagRead
from nfc_reader._tagtools import identify_by_uid
from nfc_reader._uidtable import UidTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TapPolicy:
    """How taps are counted: one tap = one read.

    A tag held on the reader counts once; lifted and tapped again it counts again. A
    read that fails halfway is retried while the tag stays, and counts once when it
    succeeds. Defaults suit people tapping products; every field can be tuned.
    """

    # The same tag seen again within this long after it was last seen on the reader is
    # still the same tap: a presence check that failed once under load, a hand wobbling
    # at the edge of the field. People need longer than this to lift and tap again.
    repeat_holdoff_s: float = 0.25
    # Consecutive failed presence checks before a tag counts as lifted.
    absent_checks: int = 2
    presence_interval_s: float = 0.05
    # NDEF re-reads within one activation before a tag counts as holding no NDEF: a busy
    # machine can wake past nfcpy's receive deadline with the answer already waiting.
    read_attempts: int = 3
    # Activations of one tap that failed halfway before it is reported unreadable.
    retry_reads: int = 3
    # Count a tag held this long again (None: a held tag counts once, however long).
    held_repeat_s: float | None = None
    # Pause between polls on hardware readers (on udp an empty poll already costs 1 s).
    poll_interval_s: float = 0.1

    def __post_init__(self) -> None:
        if self.absent_checks < 1 or self.read_attempts < 1 or self.retry_reads < 1:
            raise ValueError("absent_checks, read_attempts and retry_reads must be at least 1")
        if min(self.repeat_holdoff_s, self.presence_interval_s, self.poll_interval_s) < 0:
            raise ValueError("durations must not be negative")
        if self.held_repeat_s is not None and self.held_repeat_s <= 0:
            raise ValueError("held_repeat_s must be positive (or None)")


def read_counting_attempts(tag: nfc.tag.Tag, uid_table: UidTable | None, attempts: int) -> tuple[TagRead | None, int]:
    """The read, and how many times the NDEF was read to get it."""
    uid = bytes(tag.identifier).hex().upper()
    for attempt in range(1, attempts + 1):
        ndef = tag.ndef  # nfcpy keeps only a successful read, so this reads again
        if ndef is not None:
            return identify_by_uid(uid, decode_tag(uid, bytes(ndef.octets)), uid_table), attempt
        # nfcpy says "no NDEF" both for a tag without it and for a read that timed out
        # (on a busy machine, or a tag pulled away): only a tag still there is asked again.
        if not tag.is_present:
            return None, attempt
    return identify_by_uid(uid, None, uid_table), attempts


class TapTracker:
    """Remembers the last tap so that the same tag, still there, is not counted twice."""

    def __init__(self, policy: TapPolicy) -> None:
        self._policy = policy
        self.uid: str | None = None
        self.delivered = False
        self.last_seen = -math.inf
        self._failures = 0

    def is_repeat(self, uid: str, now: float) -> bool:
        """Whether ``uid`` is the tag just delivered, seen again within the holdoff: the same tap."""
        return self.delivered and uid == self.uid and now - self.last_seen < self._policy.repeat_holdoff_s

    def seen(self, uid: str, now: float) -> None:
        """The tracked tag is still there at ``now``."""
        if uid == self.uid:
            self.last_seen = now

    def failed(self, uid: str) -> int:
        """Count one more failed read of ``uid``; returns how many in a row."""
        if uid != self.uid or self.delivered:
            self.uid, self.delivered, self._failures = uid, False, 0
        self._failures += 1
        return self._failures

    def delivered_now(self, uid: str, now: float) -> None:
        """``uid``'s tap has been handed on (or written): it counts as held from ``now``."""
        self.uid, self.delivered, self.last_seen, self._failures = uid, True, now, 0

    def forget(self) -> None:
        """The next sighting of any tag is a new tap."""
        self.uid, self.delivered, self._failures = None, False, 0


class Presence(enum.Enum):
    """What a presence check heard."""

    THERE = "there"
    SILENT = "silent"  # no answer: gone, or a check that failed under load
    REPLACED = "replaced"  # another tag answered in its place


def check_presence(tag: nfc.tag.Tag) -> Presence:
    """Whether ``tag`` is still on the reader, telling silence from another tag's answer."""
    try:
        if isinstance(tag, nfc.tag.tt3.Type3Tag):
            idm = tag.polling(tag.sys)[0]
            return Presence.THERE if bytes(idm) == bytes(tag.identifier) else Presence.REPLACED
        return Presence.THERE if tag.is_present else Presence.SILENT
    except OSError:
        raise  # the reader, not the tag
    except Exception as exc:  # a garbled answer is no answer
        log.debug("presence check of %s: %s", tag, exc)
        return Presence.SILENT
