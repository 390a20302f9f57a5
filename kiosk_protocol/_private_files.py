"""Files a kiosk must not lose or show: written whole or not at all, and readable by its owner only.

A file is written under a temporary name created 0600 from the start (``os.open`` with
the mode, so no moment exists where it is wider), flushed to disk, then renamed over
the old one and its folder synced: after a power cut the old file or the new one is
there, never half of one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PRIVATE = 0o600
PUBLIC = 0o644  # files anyone on the kiosk may read (the catalog, its images)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` survive a power cut."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def atomic_writer(path: Path, mode: int = PRIVATE) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` (with ``mode``) only once everything written is on disk.

    Raises:
        OSError: the folder is not writable or the disk is full; ``path`` is then unchanged.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)  # left by a crash: O_EXCL below must create it fresh
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomically(path: Path, data: bytes, mode: int = PRIVATE) -> None:
    """Replace ``path`` with ``data`` durably and atomically (see ``atomic_writer``)."""
    with atomic_writer(path, mode) as out:
        out.write(data)


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists and only its owner may read it (a database before SQLite opens it).

    SQLite gives its -wal, -shm and -journal files the mode of the database file, so a
    database created here keeps all of them private.
    """
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE)
    try:
        if os.fstat(descriptor).st_mode & 0o777 != PRIVATE:  # an older, wider file from before this rule
            os.fchmod(descriptor, PRIVATE)
    finally:
        os.close(descriptor)
    for companion in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + companion)
        if side.exists():
            side.chmod(PRIVATE)
    return path
