"""What a kiosk remembers of shoppers' profiles, for when HQ cannot be reached.

Entries are keyed by a keyed hash (HMAC with this kiosk's own secret) of the hash HQ
names shoppers by, so HQ's erase order still finds them while the file alone tells no
one whose profile it holds; the shopper id itself is not stored. Each profile is sealed
(AES-GCM) under a key drawn from the same secret and that hash, since it may hold the
name the shopper is greeted by: it is read only by whoever knows whose it is. Entries
expire, so a kiosk that never hears the erase order still forgets in time. The database
and its secret are readable by their owner only, and deleted rows are overwritten.
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

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kiosk_protocol import ProfileResponse, private_file, shopper_hash, write_atomically

log = logging.getLogger(__name__)

CACHE_TTL_S = 7 * 24 * 3600
_SECRET_BYTES = 32
_NONCE_BYTES = 12
# Tables of earlier layouts: the first kept shopper ids in the clear, the second profiles
# unsealed (readable, a shopper's name with them). A cache may simply start over.
_OLD_TABLES = ("profiles", "cached_profiles")


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
        old = [name for name in _OLD_TABLES
               if self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()]
        for name in old:
            self._db.execute(f"DROP TABLE {name}")  # a name of _OLD_TABLES, never from outside
        if old:
            self._db.execute("VACUUM")
            log.info("profile cache %s emptied: its old layout held shopper ids or unsealed profiles", path)
        self._db.execute("CREATE TABLE IF NOT EXISTS sealed_profiles (entry TEXT PRIMARY KEY, body BLOB NOT NULL, "
                         "saved REAL NOT NULL)")

    def put(self, profile: ProfileResponse) -> None:
        """Remember a profile HQ sent (its display name too)."""
        hashed = shopper_hash(profile.shopper)
        entry = self._entry(hashed)
        body = self._seal(hashed, entry, profile.model_dump_json(exclude={"shopper"}).encode())
        with self._lock:
            if self._db is None:
                return
            try:
                self._db.execute("INSERT OR REPLACE INTO sealed_profiles VALUES (?, ?, ?)", (entry, body, time.time()))
            except sqlite3.Error as exc:  # a full disk: the shopper still gets HQ's answer, only uncached
                self.write_failures += 1
                log.warning("profile not cached: %s", exc)

    def get(self, shopper: str, now: float | None = None) -> ProfileResponse | None:
        """The remembered profile, unless it has expired or cannot be read."""
        hashed = shopper_hash(shopper)
        entry = self._entry(hashed)
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute("SELECT body, saved FROM sealed_profiles WHERE entry = ?", (entry,)).fetchone()
        if row is None or row[1] < (time.time() if now is None else now) - self._ttl_s:
            return None
        try:
            return ProfileResponse.model_validate({**json.loads(self._open(hashed, entry, row[0])), "shopper": shopper})
        except (InvalidTag, ValueError) as exc:  # damaged, or sealed under a secret since lost
            log.warning("a cached profile cannot be read and is not used: %s", type(exc).__name__)
            return None

    def forget(self, hashed_shopper: str) -> bool:
        """Drop a shopper's profile, display name and all (HQ erased it); returns whether one was here."""
        with self._lock:
            if self._db is None:
                return False
            return self._db.execute("DELETE FROM sealed_profiles WHERE entry = ?",
                                    (self._entry(hashed_shopper),)).rowcount > 0

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _entry(self, hashed_shopper: str) -> str:
        return hmac.new(self._secret, hashed_shopper.encode(), hashlib.sha256).hexdigest()

    def _sealing(self, hashed_shopper: str) -> AESGCM:
        return AESGCM(hmac.new(self._secret, b"seal:" + hashed_shopper.encode(), hashlib.sha256).digest())

    def _seal(self, hashed_shopper: str, entry: str, body: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        # The entry is bound in: a body moved to another shopper's row does not open there.
        return nonce + self._sealing(hashed_shopper).encrypt(nonce, body, entry.encode())

    def _open(self, hashed_shopper: str, entry: str, sealed: bytes) -> bytes:
        nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._sealing(hashed_shopper).decrypt(nonce, body, entry.encode())


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
