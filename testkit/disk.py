"""A real full disk: a small tmpfs, and a filler that takes it to its last byte."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def small_disk(directory: Path, size: str = "512k") -> Iterator[Path]:
    """A real filesystem of ``size`` mounted in ``directory``/small-disk (tmpfs; needs root), unmounted after.

    A write that does not fit is then SQLite's SQLITE_FULL, not a pretence.
    """
    mount_point = directory / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill_disk(directory: Path) -> Path:
    """Fill the filesystem holding ``directory`` to its last byte; returns the filler (delete it to make room)."""
    filler = directory / "filler.bin"
    with filler.open("wb", buffering=0) as out:
        for size in (64 * 1024, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    try:
        with (directory / "probe").open("wb", buffering=0) as probe:
            probe.write(b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError(f"{directory} is not full")
    return filler
