"""The kiosk's profile cache keeps the display name sealed, and an erase order takes it away."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from backend_sync import ProfileCache
from kiosk_protocol import ProfileResponse, shopper_hash

SHOPPER, OTHER, NAME = "shopper-0042", "shopper-0043", "Lucía Fernández"


def stored_bytes(folder: Path) -> bytes:
    return b"".join(file.read_bytes() for file in folder.glob("profiles.sqlite*") if not file.name.endswith(".key"))


def test_the_cached_display_name_is_sealed_and_goes_with_an_erase(tmp_path: Path) -> None:
    cache = ProfileCache(tmp_path / "profiles.sqlite")
    profile = ProfileResponse(request_id=uuid.uuid4(), shopper=SHOPPER, recent_skus=("BAG-TOTE-BRN",),
                              display_name=NAME)
    try:
        cache.put(profile)
        assert cache.get(SHOPPER) == profile
        assert NAME.encode() not in stored_bytes(tmp_path) and b"BAG-TOTE-BRN" not in stored_bytes(tmp_path)
        assert cache.forget(shopper_hash(SHOPPER))
        assert cache.get(SHOPPER) is None
    finally:
        cache.close()


def test_a_sealed_profile_opens_only_in_its_own_entry(tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite"
    cache = ProfileCache(path)
    cache.put(ProfileResponse(request_id=uuid.uuid4(), shopper=SHOPPER, display_name=NAME))
    cache.put(ProfileResponse(request_id=uuid.uuid4(), shopper=OTHER))
    cache.close()
    with sqlite3.connect(path) as db:  # someone moves one shopper's profile into another's row
        [mine] = db.execute("SELECT body FROM sealed_profiles ORDER BY length(body) DESC LIMIT 1").fetchone()
        db.execute("UPDATE sealed_profiles SET body = ?", (mine,))
    db.close()
    again = ProfileCache(path)
    try:
        assert again.get(SHOPPER) is not None and again.get(SHOPPER).display_name == NAME  # type: ignore[union-attr]
        assert again.get(OTHER) is None  # refused, not shown as someone else's
    finally:
        again.close()


def test_a_cache_of_unsealed_profiles_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE cached_profiles (entry TEXT PRIMARY KEY, body BLOB NOT NULL, saved REAL NOT NULL)")
        old.execute("INSERT INTO cached_profiles VALUES ('e', '{\"wishlist\": [\"BAG-TOTE-BRN\"]}', 0)")
    old.close()
    assert b"BAG-TOTE-BRN" in path.read_bytes()
    ProfileCache(path).close()
    assert b"BAG-TOTE-BRN" not in path.read_bytes()
