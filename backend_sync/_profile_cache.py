"""What a kiosk remembers of shoppers' profiles, for when HQ cannot be reached.

Entries are keyed by a hash of the shopper id (HQ's erase order names only the hash),
and expire, so a kiosk that never hears the erase order still forgets in time.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from backend_sync.contract import ProfileResponse, shopper_hash

CACHE_TTL_S = 7 * 24 * 3600


class ProfileCache:
    """Last known profiles of shoppers who signed in at this kiosk.

    Once closed (the kiosk stopping) it knows nothing and keeps nothing: a profile pull
    still waiting on HQ when the window closes must not fail on a closed database.
    """

    def __init__(self, path: str | Path, ttl_s: float = CACHE_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(str(path), check_same_thread=False,
                                                               isolation_level=None)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS profiles (shopper_hash TEXT PRIMARY KEY, body BLOB NOT NULL, saved REAL)"
        )

    def put(self, profile: ProfileResponse) -> None:
        """Remember a profile HQ sent."""
        with self._lock:
            if self._db is None:
                return
            self._db.execute("INSERT OR REPLACE INTO profiles VALUES (?, ?, ?)",
                             (shopper_hash(profile.shopper), profile.model_dump_json(), time.time()))

    def get(self, shopper: str, now: float | None = None) -> ProfileResponse | None:
        """The remembered profile, unless it has expired."""
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute("SELECT body, saved FROM profiles WHERE shopper_hash = ?",
                                   (shopper_hash(shopper),)).fetchone()
        if row is None or row[1] < (time.time() if now is None else now) - self._ttl_s:
            return None
        return ProfileResponse.model_validate_json(row[0])

    def forget(self, hashed_shopper: str) -> bool:
        """Drop a shopper's profile (HQ erased it); returns whether one was here."""
        with self._lock:
            if self._db is None:
                return False
            return self._db.execute("DELETE FROM profiles WHERE shopper_hash = ?", (hashed_shopper,)).rowcount > 0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
