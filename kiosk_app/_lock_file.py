"""The kiosk's out-of-service lock, kept on disk: a lock from HQ or staff holds across
restarts until someone unlocks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kiosk_protocol import write_atomically

log = logging.getLogger(__name__)


class LockFile:
    """A JSON file holding why the kiosk was locked; no file, no lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def reason(self) -> str | None:
        """Why the kiosk was locked, or None when it is not."""
        try:
            return str(json.loads(self.path.read_text())["reason"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return "locked"  # a damaged lock file still locks: out of service is the safe side

    def hold(self, reason: str) -> None:
        """Keep the lock for the next start; a disk that refuses the file is logged (the lock ends with this run)."""
        try:
            write_atomically(self.path, json.dumps({"reason": reason}).encode(), 0o644)
        except OSError as exc:
            log.error("the lock will not hold across a restart: %s", exc)

    def release(self) -> None:
        """Start unlocked next time; a disk that keeps the file is logged (the kiosk would start locked again)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.error("the kiosk will start locked again: %s", exc)
