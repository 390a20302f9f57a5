"""The UID -> SKU table for product tags that carry no NDEF (or nothing the kiosk reads).

Staff maintain it (``kiosk nfc uid add|remove|list``, or staff mode); the reader looks a
tag up in it when the tag's content does not name a product. It is a small JSON file,
readable and diffable by people::

    {"version": 1, "tags": {"04A1B2C3D4E5F6": "BOOT-CHELSEA-BLK"}}

Writes replace the file atomically under an advisory lock, so a staff command and a
running kiosk can share one file; the kiosk picks up changes on its next lookup.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import pydantic

from nfc_reader._ndef import SKU_REGEX, validate_sku
from nfc_reader.exceptions import UidTableError

log = logging.getLogger(__name__)

# NFCID1 is 4, 7 or 10 bytes, a FeliCa IDm 8, a Type B PUPI 4: 4 to 10 bytes in hex.
_UID_PATTERN = re.compile(r"^(?:[0-9A-F]{2}){4,10}$")
_UID_SEPARATORS = re.compile(r"[\s:.-]")


_Uid = Annotated[str, pydantic.StringConstraints(pattern=_UID_PATTERN.pattern)]
_Sku = Annotated[str, pydantic.StringConstraints(pattern=SKU_REGEX)]


class _TableFile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    version: Literal[1]
    tags: dict[_Uid, _Sku]


def normalize_uid(uid: str) -> str:
    """A UID as the reader reports it: upper-case hex, no separators ("04:a1:..." -> "04A1...").

    Raises:
        ValueError: not 4 to 10 bytes of hex.
    """
    cleaned = _UID_SEPARATORS.sub("", uid).upper() if isinstance(uid, str) else ""
    if not _UID_PATTERN.match(cleaned):
        raise ValueError(f"not a tag UID: {uid!r} (4 to 10 bytes in hex)")
    return cleaned


class UidTable:
    """Which product a tag without usable NDEF stands for, keyed by the tag's UID.

    A missing file is an empty table; it is created on the first ``assign``.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._tags: dict[str, str] = {}
        self._seen: tuple[int, int, int] | None = None

    def lookup(self, uid: str) -> str | None:
        """The SKU assigned to ``uid``, or None.

        Raises:
            UidTableError: the file exists but is unreadable or invalid.
        """
        try:
            key = normalize_uid(uid)
        except ValueError:
            return None
        with self._lock:
            self._reload_if_changed()
            return self._tags.get(key)

    def entries(self) -> dict[str, str]:
        """Every UID and its SKU.

        Raises:
            UidTableError: the file exists but is unreadable or invalid.
        """
        with self._lock:
            self._reload_if_changed()
            return dict(sorted(self._tags.items()))

    def assign(self, uid: str, sku: str) -> str:
        """Make the tag ``uid`` stand for ``sku``; returns the normalized UID.

        Raises:
            ValueError: ``uid`` or ``sku`` is not valid.
            UidTableError: the file cannot be read or written.
        """
        key, value = normalize_uid(uid), validate_sku(sku)
        with self._edit() as tags:
            tags[key] = value
        log.info("tag %s now stands for %s", key, value)
        return key

    def remove(self, uid: str) -> bool:
        """Forget the tag ``uid``; False if it was not in the table.

        Raises:
            ValueError: ``uid`` is not a UID.
            UidTableError: the file cannot be read or written.
        """
        key = normalize_uid(uid)
        with self._edit() as tags:
            return tags.pop(key, None) is not None

    @contextlib.contextmanager
    def _edit(self) -> Iterator[dict[str, str]]:
        """Read-modify-write under an exclusive lock on a sibling lock file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._lock, open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            self._seen = None  # another process may have written since our last look
            self._reload_if_changed()
            tags = dict(self._tags)
            yield tags
            self._write(tags)
            self._tags = tags

    def _reload_if_changed(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._tags, self._seen = {}, None
            return
        except OSError as exc:
            raise UidTableError(f"cannot read the tag table {self.path}: {exc.strerror}") from exc
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return
        try:
            text = self.path.read_bytes()
        except OSError as exc:
            raise UidTableError(f"cannot read the tag table {self.path}: {exc.strerror}") from exc
        try:
            table = _TableFile.model_validate_json(text)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise UidTableError(f"the tag table {self.path} is invalid at {where or 'top'}: {first['msg']}") from exc
        self._tags, self._seen = dict(table.tags), seen

    def _write(self, tags: dict[str, str]) -> None:
        data = json.dumps({"version": 1, "tags": dict(sorted(tags.items()))}, indent=2) + "\n"
        temp: str | None = None
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            raise UidTableError(f"cannot write the tag table {self.path}: {exc.strerror}") from exc
        stat = self.path.stat()
        self._seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
