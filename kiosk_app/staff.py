"""The staff PIN, the way into staff mode when no badge is at hand: plain Python.

The kiosk keeps only a scrypt hash of the PIN (``kiosk staff-pin`` writes it). A few
wrong tries in a row close the pad for a while, so a shopper cannot guess a four-digit
PIN by trying them all; the count and the closing are kept in a file beside the PIN's, so
restarting the kiosk does not open the pad again.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk_app.exceptions import PinError
from kiosk_protocol import write_atomically

log = logging.getLogger(__name__)

MAX_TRIES = 5
LOCKOUT_S = 300.0
_PIN = re.compile(r"\d{4,8}")
# scrypt's interactive-login cost: about 50 ms and 16 MiB per check.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


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
    write_atomically(path, json.dumps(record).encode())  # 0600 from its first byte


def lockout_file(pin_path: Path) -> Path:
    """Where the wrong tries against the PIN at ``pin_path`` are counted."""
    return pin_path.with_name(pin_path.stem + "-lockout.json")


class StaffPin:
    """Checks PIN attempts against the hash at ``path`` (read once; no file, no PIN).

    ``clock`` is wall time (seconds since the epoch): a closing outlives a restart.
    """

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, max_tries: int = MAX_TRIES,
                 lockout_s: float = LOCKOUT_S) -> None:
        self._record = _read(path)
        self._clock = clock
        self._max_tries = max_tries
        self._lockout_s = lockout_s
        self._state_path = lockout_file(path)
        self._wrong, self._closed_until = _read_lockout(self._state_path, clock(), lockout_s)

    def check(self, attempt: str) -> PinCheck:
        """Whether ``attempt`` is the PIN; a wrong one counts towards the lockout."""
        if self._record is None:
            return PinCheck(PinVerdict.NOT_SET)
        now = self._clock()
        if now < self._closed_until:
            return PinCheck(PinVerdict.LOCKED_OUT, wait_s=self._closed_until - now)
        salt, expected, cost = self._record
        if _PIN.fullmatch(attempt) and hmac.compare_digest(_hash(attempt, salt, cost), expected):
            if self._wrong:
                self._wrong = 0
                self._save()
            return PinCheck(PinVerdict.ACCEPTED)
        self._wrong += 1
        if self._wrong >= self._max_tries:
            self._wrong = 0
            self._closed_until = now + self._lockout_s
            self._save()
            return PinCheck(PinVerdict.LOCKED_OUT, wait_s=self._lockout_s)
        self._save()
        return PinCheck(PinVerdict.WRONG, tries_left=self._max_tries - self._wrong)

    def _save(self) -> None:
        """Keep the count and the closing on disk; a disk that refuses leaves them in memory, logged."""
        try:
            write_atomically(self._state_path, json.dumps({"wrong": self._wrong,
                                                          "closed_until": self._closed_until}).encode())
        except OSError as exc:
            log.warning("the PIN pad's wrong tries are kept in memory only: %s", exc)


def _hash(pin: str, salt: bytes, cost: dict[str, int]) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=cost["n"], r=cost["r"], p=cost["p"], maxmem=64 * 2**20)


def _read_lockout(path: Path, now: float, lockout_s: float) -> tuple[int, float]:
    """Wrong tries so far and until when the pad is closed, as kept at ``path``.

    A damaged file closes the pad for a full lockout (the safe side); a closing further
    off than one lockout (a clock set back) is cut to one.
    """
    try:
        state = json.loads(path.read_bytes())
        wrong, closed_until = int(state["wrong"]), float(state["closed_until"])
    except FileNotFoundError:
        return 0, 0.0
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("the PIN pad's lockout file %s cannot be read (%s): the pad stays closed a while", path, exc)
        return 0, now + lockout_s
    return max(wrong, 0), min(closed_until, now + lockout_s)


def _read(path: Path) -> tuple[bytes, bytes, dict[str, int]] | None:
    try:
        record = json.loads(path.read_text())
        return bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"]), dict(record["scrypt"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PinError(f"the staff PIN file {path} cannot be read ({exc}); set the PIN again") from exc
