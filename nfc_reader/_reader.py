"""The reader loop: opens an nfcpy device by path, turns each tap into one TagRead,
and keeps trying when the reader is missing or unplugged.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import nfc
import nfc.clf
import nfc.tag

from nfc_reader._ndef import decode_tag
from nfc_reader._tagread import TagRead

log = logging.getLogger(__name__)

_PRESENCE_POLL_S = 0.05
# nfcpy reports a read that timed out as "no NDEF"; a busy kiosk (GIL, software GL) can
# wake past a short deadline with the answer already waiting, so ask again before
# calling the tag empty.
_NDEF_READ_ATTEMPTS = 3


class ReaderState(enum.Enum):
    """Whether the reader can read taps."""

    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class ReaderStatus:
    """The reader's state, and why it is offline."""

    state: ReaderState
    path: str
    reason: str = ""


def read_tag(tag: nfc.tag.Tag) -> TagRead:
    """Decode an activated nfcpy tag into a TagRead."""
    uid = bytes(tag.identifier).hex().upper()
    for _ in range(_NDEF_READ_ATTEMPTS):
        if tag.ndef is not None:  # nfcpy keeps only a successful read, so this re-reads
            return decode_tag(uid, bytes(tag.ndef.octets))
    return TagRead.unreadable(uid, "tag holds no NDEF data")


class TagReader:
    """Reads taps from the reader at ``path`` on its own thread.

    Each tap is handed once to ``on_read``; a tag held on the reader counts once, and
    lifting it and tapping again counts again. ``on_status`` hears online/offline.
    """

    def __init__(
        self,
        path: str,
        on_read: Callable[[TagRead], None],
        on_status: Callable[[ReaderStatus], None] | None = None,
        retry_s: float = 2.0,
    ) -> None:
        self.path = path
        self._on_read = on_read
        self._on_status = on_status or (lambda status: None)
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"nfc-reader {path}", daemon=True)
        # Over udp only the emulated technology answers; polling the others costs a second each.
        techs = ("212F",) if path.startswith("udp") else ("106A", "106B", "212F")
        self._targets = [nfc.clf.RemoteTarget(brty) for brty in techs]

    def start(self) -> None:
        """Start reading on a background thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Stop reading and release the device."""
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            clf = nfc.ContactlessFrontend()
            try:
                if not clf.open(self.path):
                    raise OSError(f"no reader found at {self.path!r}")
            except OSError as exc:
                self._on_status(ReaderStatus(ReaderState.OFFLINE, self.path, str(exc)))
                self._stop.wait(self._retry_s)
                continue
            self._on_status(ReaderStatus(ReaderState.ONLINE, self.path))
            try:
                self._read_taps(clf)
            except (OSError, nfc.clf.Error) as exc:
                log.warning("reader %s failed: %s", self.path, exc)
                self._on_status(ReaderStatus(ReaderState.OFFLINE, self.path, str(exc)))
                self._stop.wait(self._retry_s)
            finally:
                clf.close()

    def _read_taps(self, clf: nfc.ContactlessFrontend) -> None:
        while not self._stop.is_set():
            target = clf.sense(*self._targets, iterations=1)
            if target is None:
                continue
            try:
                tag = nfc.tag.activate(clf, target)
                read = read_tag(tag) if tag is not None else None
            except nfc.tag.TagCommandError as exc:
                log.info("tap not completed, waiting for the next one: %s", exc)
                continue
            if read is None:
                continue
            self._on_read(read)
            while not self._stop.is_set() and tag.is_present:
                time.sleep(_PRESENCE_POLL_S)
