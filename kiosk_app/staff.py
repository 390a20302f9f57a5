"""The staff PIN, the way into staff mode when no badge is at hand: plain Python.

The kiosk keeps only a scrypt hash of the PIN (``kiosk staff-pin`` writes it). A few
wrong tries in a row close the pad for a while, so a shopper cannot guess a four-digit
PIN by trying them all.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_TRIES = 5
LOCKOUT_S = 300.0
_PIN = re.compile(r"\d{4,8}")
# scrypt's interactive-login cost: about 50 ms and 16 MiB per check.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class PinError(ValueError):
    """A PIN that cannot be set (not 4 to 8 digits) or a PIN file that cannot be read."""


class PinVerdict(enum.Enum):
    """What a PIN attempt came to."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    LOCKED_OUT = "locked_out"  # too many wrong tries: wait
    NOT_SET = "not_set"  # this kiosk has no staff PIN: badges only


@dataclass(frozen=True)
class PinCheck:
    """A PIN attempt's verdict, with the tries left or the wait."""

    verdict: PinVerdict
    tries_left: int = 0
    wait_s: float = 0.0


def pin_file(data_dir: Path) -> Path:
    """Where a kiosk with data directory ``data_dir`` keeps its staff PIN's hash."""
    return data_dir / "staff-pin.json"


def write_pin(path: Path, pin: str) -> None:
    """Store the scrypt hash of ``pin`` (4 to 8 digits) at ``path``, readable by its owner only."""
    if not _PIN.fullmatch(pin):
        raise PinError("a staff PIN is 4 to 8 digits")
    salt = os.urandom(16)
    record = {"scrypt": _SCRYPT, "salt": salt.hex(), "hash": _hash(pin, salt, _SCRYPT).hex()}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record))
    temporary.chmod(0o600)
    temporary.replace(path)


class StaffPin:
    """Checks PIN attempts against the hash at ``path`` (read once; no file, no PIN)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic, max_tries: int = MAX_TRIES,
                 lockout_s: float = LOCKOUT_S) -> None:
        self._record = _read(path)
        self._clock = clock
        self._max_tries = max_tries
        self._lockout_s = lockout_s
        self._wrong = 0
        self._closed_until = 0.0

    def check(self, attempt: str) -> PinCheck:
        """Whether ``attempt`` is the PIN; a wrong one counts towards the lockout."""
        if self._record is None:
            return PinCheck(PinVerdict.NOT_SET)
        now = self._clock()
        if now < self._closed_until:
            return PinCheck(PinVerdict.LOCKED_OUT, wait_s=self._closed_until - now)
        salt, expected, cost = self._record
        if _PIN.fullmatch(attempt) and hmac.compare_digest(_hash(attempt, salt, cost), expected):
            self._wrong = 0
            return PinCheck(PinVerdict.ACCEPTED)
        self._wrong += 1
        if self._wrong >= self._max_tries:
            self._wrong = 0
            self._closed_until = now + self._lockout_s
            return PinCheck(PinVerdict.LOCKED_OUT, wait_s=self._lockout_s)
        return PinCheck(PinVerdict.WRONG, tries_left=self._max_tries - self._wrong)


def _hash(pin: str, salt: bytes, cost: dict[str, int]) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=cost["n"], r=cost["r"], p=cost["p"], maxmem=64 * 2**20)


def _read(path: Path) -> tuple[bytes, bytes, dict[str, int]] | None:
    try:
        record = json.loads(path.read_text())
        return bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"]), dict(record["scrypt"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PinError(f"the staff PIN file {path} cannot be read ({exc}); set the PIN again") from exc
