"""What a kiosk remembers of shoppers' profiles, for when HQ cannot be reached.

Entries are keyed by a keyed hash (HMAC with this kiosk's own secret) of the hash HQ
names shoppers by, so HQ's erase order still finds them while the file alone tells no
one whose profile it holds; the shopper id itself is not stored. Entries expire, so a
kiosk that never hears the erase order still forgets in time. The database and its
secret are readable by their owner only, and deleted rows are overwritten.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from kiosk_protocol import ProfileResponse, private_file, shopper_hash, write_atomically

log = logging.getLogger(__name__)

CACHE_TTL_S = 7 * 24 * 3600
_SECRET_BYTES = 32


class ProfileCache:
    """Last known profiles of shoppers who signed in at this kiosk.

    Once closed (the kiosk stopping) it knows nothing and keeps nothing: a profile pull
    still waiting on HQ when the window closes must not fail on a closed database.
    """

    def __init__(self, path: str | Path, ttl_s: float = CACHE_TTL_S) -> None:
        path = Path(path)
        self._ttl_s = ttl_s
        self.write_failures = 0
        self._lock = threading.Lock()
        self._secret = _secret(path.with_name(path.name + ".key"))
        self._db: sqlite3.Connection | None = sqlite3.connect(str(private_file(path)), check_same_thread=False,
                                                               isolation_level=None)
        self._db.execute("PRAGMA secure_delete=ON")  # a forgotten profile leaves no bytes behind
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'profiles'").fetchone():
            # The first layout kept each shopper's id in the clear: a cache may simply start over.
            self._db.execute("DROP TABLE profiles")
            self._db.execute("VACUUM")
            log.info("profile cache %s emptied: its old layout held shopper ids", path)
        self._db.execute("CREATE TABLE IF NOT EXISTS cached_profiles (entry TEXT PRIMARY KEY, body BLOB NOT NULL, "
                         "saved REAL NOT NULL)")

    def put(self, profile: ProfileResponse) -> None:
        """Remember a profile HQ sent."""
        body = profile.model_dump_json(exclude={"shopper", "display_name"})  # nothing that names them
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute("INSERT OR REPLACE INTO cached_profiles VALUES (?, ?, ?)",
                                 (self._entry(shopper_hash(profile.shopper)), body, time.time()))
            except sqlite3.Error as exc:  # a full disk: the shopper still gets HQ's answer, only uncached
                self.write_failures += 1
                log.warning("profile not cached: %s", exc)

    def get(self, shopper: str, now: float | None = None) -> ProfileResponse | None:
        """The remembered profile, unless it has expired."""
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute("SELECT body, saved FROM cached_profiles WHERE entry = ?",
                                   (self._entry(shopper_hash(shopper)),)).fetchone()
        if row is None or row[1] < (time.time() if now is None else now) - self._ttl_s:
            return None
        return ProfileResponse.model_validate({**json.loads(row[0]), "shopper": shopper})

    def forget(self, hashed_shopper: str) -> bool:
        """Drop a shopper's profile (HQ erased it); returns whether one was here."""
        with self._lock:
            if self._db is None:
                return False
            return self._db.execute("DELETE FROM cached_profiles WHERE entry = ?",
                                    (self._entry(hashed_shopper),)).rowcount > 0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _entry(self, hashed_shopper: str) -> str:
        return hmac.new(self._secret, hashed_shopper.encode(), hashlib.sha256).hexdigest()


def _secret(path: Path) -> bytes:
    """This kiosk's cache secret, made on first use; a lost or damaged one only empties the cache in effect."""
    try:
        secret = path.read_bytes()
        if len(secret) == _SECRET_BYTES:
            return secret
        log.warning("profile cache secret %s is damaged: a new one makes the cached profiles unreadable", path)
    except FileNotFoundError:
        pass
    secret = os.urandom(_SECRET_BYTES)
    write_atomically(path, secret)
    return secret
