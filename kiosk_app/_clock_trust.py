"""Whether the kiosk's wall clock may decide which offers are on.

The rule is the update path's (``verify_manifest``): a kiosk whose clock is more than
``MAX_CLOCK_SKEW_S`` behind a time HQ signed is wrong. The newest such time the kiosk has
verified (a manifest's ``created_at``, from one applied or from one refused for being made
"after" the kiosk's clock) is kept across restarts: a kiosk that boots with its clock reset
to the past must not show an ended offer as running. A clock too far ahead cannot be told
from a kiosk that heard nothing from HQ for a while, so it is not judged here.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from kiosk_protocol import MAX_CLOCK_SKEW_S, PUBLIC, write_atomically

log = logging.getLogger(__name__)

SKEW = timedelta(seconds=MAX_CLOCK_SKEW_S)


def clock_trusted(now: datetime, signed: datetime | None) -> bool:
    """Whether ``now`` is not more than the update path's skew behind ``signed`` (None: nothing says it is)."""
    return signed is None or now >= signed - SKEW


class SignedTime:
    """The newest time HQ signed that this kiosk verified, in a small file (safe from any thread)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self.newest = self._read()

    def note(self, signed_at: datetime) -> bool:
        """Keep ``signed_at`` if it is newer than the newest known; True when it was."""
        with self._lock:
            if self.newest is not None and signed_at <= self.newest:
                return False
            self.newest = signed_at
            try:
                write_atomically(self._path, json.dumps({"newest": signed_at.isoformat()}).encode(), PUBLIC)
            except OSError as exc:  # a full disk: the time holds until the kiosk restarts
                log.warning("the newest signed time is not kept: %s", exc)
            return True

    def _read(self) -> datetime | None:
        try:
            newest = datetime.fromisoformat(json.loads(self._path.read_bytes())["newest"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the newest signed time in %s is not readable (%s): none is known", self._path, exc)
            return None
        return newest if newest.tzinfo is not None else None
