"""Secrets kept in files readable by their owner only, never on a command line.

A URL with a password on a command line can be read by every local user (``ps``,
``/proc/<pid>/cmdline``); in a file of mode 0600 only its owner can.
"""

from __future__ import annotations

from pathlib import Path

from kiosk_protocol import SyncError


def read_url_file(path: Path) -> str:
    """The one URL a secret file holds (surrounding whitespace and newlines dropped).

    Raises:
        SyncError: the file cannot be read or holds no URL.
    """
    try:
        url = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncError(f"cannot read the URL file {path}: {exc}") from exc
    if not url or "\n" in url:
        raise SyncError(f"{path} must hold exactly one URL")
    return url
