"""What the kiosk keeps about shoppers and staff is for its own user only: the outbox, the
profile cache and the PIN file are 0600 from the moment they exist (checked under umask 0
with every chmod recorded), the cache holds no shopper id, and the PIN pad's lockout
outlives a restart."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from backend_sync import Outbox, ProfileCache
from kiosk_app.staff import PinVerdict, StaffPin, lockout_file, pin_file, write_pin
from kiosk_protocol import ProfileResponse, shopper_hash
from testkit.chmods import ChmodRecorder

SHOPPER = "shopper-0042"


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def chmodded(recorder: ChmodRecorder, *paths: Path) -> list[tuple[object, int]]:
    names = {str(path) for path in paths}
    return [call for call in recorder.calls if str(call[0]) in names or isinstance(call[0], int)]


def test_the_outbox_and_its_wal_and_shm_are_created_private(chmods_under_umask_0: ChmodRecorder,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.enqueue("t", lambda seq: b"a shopper's view")
    files = [path, tmp_path / "outbox.sqlite-wal", tmp_path / "outbox.sqlite-shm"]
    try:
        assert [mode(file) for file in files] == [0o600, 0o600, 0o600]
    finally:
        outbox.close()
    assert chmodded(chmods_under_umask_0, *files) == []  # created 0600, never narrowed after the fact


def test_an_outbox_left_readable_by_an_older_kiosk_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    Outbox(path).close()
    path.chmod(0o644)
    Outbox(path).close()
    assert mode(path) == 0o600


def test_the_profile_cache_is_private_and_holds_no_shopper_id(chmods_under_umask_0: ChmodRecorder,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite"
    cache = ProfileCache(path)
    profile = ProfileResponse(request_id=uuid.uuid4(), shopper=SHOPPER, recent_skus=("BAG-TOTE-BRN",),
                              wishlist=("BOOT-CHELSEA-TAN",))
    cache.put(profile)
    assert cache.get(SHOPPER) == profile  # lookups still work
    cache.close()
    secret = tmp_path / "profiles.sqlite.key"
    assert (mode(path), mode(secret)) == (0o600, 0o600)
    assert chmodded(chmods_under_umask_0, path, secret) == []
    stored = b"".join(file.read_bytes() for file in tmp_path.glob("profiles.sqlite*") if file != secret)
    assert SHOPPER.encode() not in stored
    assert shopper_hash(SHOPPER).encode() not in stored  # an unkeyed hash would be guessed from card numbers

    again = ProfileCache(path)
    try:
        assert again.get(SHOPPER) == profile  # across a restart
        assert again.forget(shopper_hash(SHOPPER))  # HQ's erase order names the plain hash
        assert again.get(SHOPPER) is None
    finally:
        again.close()


def test_a_cache_of_the_old_layout_is_emptied_so_its_shopper_ids_leave_the_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE profiles (shopper_hash TEXT PRIMARY KEY, body BLOB NOT NULL, saved REAL)")
    old.execute("INSERT INTO profiles VALUES (?, ?, 0)", (shopper_hash(SHOPPER), f'{{"shopper": "{SHOPPER}"}}'))
    old.commit()
    old.close()
    assert SHOPPER.encode() in path.read_bytes()
    ProfileCache(path).close()
    assert SHOPPER.encode() not in path.read_bytes()


def test_the_pin_file_is_private_from_its_creation(chmods_under_umask_0: ChmodRecorder, tmp_path: Path) -> None:
    path = pin_file(tmp_path)
    write_pin(path, "2468")
    assert mode(path) == 0o600
    assert chmodded(chmods_under_umask_0, path, path.with_name(f".{path.name}.tmp")) == []
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    write_pin(path, "97531")  # replacing it keeps it private
    assert mode(path) == 0o600 and StaffPin(path).check("97531").verdict is PinVerdict.ACCEPTED


def test_the_pin_lockout_survives_a_restart(tmp_path: Path) -> None:
    path = pin_file(tmp_path)
    write_pin(path, "2468")
    first = StaffPin(path, max_tries=3, lockout_s=300)
    assert first.check("1111").tries_left == 2
    assert first.check("2222").tries_left == 1
    restarted = StaffPin(path, max_tries=3, lockout_s=300)  # the wrong tries are still counted
    closed = restarted.check("3333")
    assert closed.verdict is PinVerdict.LOCKED_OUT
    again = StaffPin(path, max_tries=3, lockout_s=300)  # and the closing holds across another restart
    verdict = again.check("2468")
    assert verdict.verdict is PinVerdict.LOCKED_OUT and 290 < verdict.wait_s <= 300
    assert mode(lockout_file(path)) == 0o600


def test_a_damaged_lockout_file_keeps_the_pad_closed(tmp_path: Path) -> None:
    path = pin_file(tmp_path)
    write_pin(path, "2468")
    lockout_file(path).write_text("{not json")
    assert StaffPin(path).check("2468").verdict is PinVerdict.LOCKED_OUT
