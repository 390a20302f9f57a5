"""Who calls HQ's HTTP API: one API key per channel, and the dashboard's sign-in cookie.

A key names its caller (``web``, ``app``, ``hq``, ``madrid-staff``): events a channel posts
are stored as from that channel. Keys live in a JSON file, never on a command line, in
either form, mixed freely:

- ``{"web": "<key>"}``: a channel (the name ``hq`` is HQ's own: it may use the dashboard);
- ``{"madrid-staff": {"key": "<key>", "role": "store", "store": "madrid-centro"}}``: a
  role given outright. ``channel`` (a sales channel: any store's stock and reservations),
  ``hq`` (all of that and the fleet) or ``store`` (one store's staff: that store only).

A key is at least 128 bits: 22 or more base64url characters (``new_api_key`` makes 256).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hq.exceptions import CredentialsError
from kiosk_protocol import write_atomically

_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MIN_KEY_LENGTH = 22  # base64url characters: 132 bits
_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
SESSION_TTL_S = 12 * 3600


class KeyRole(Enum):
    """What a key may do."""

    CHANNEL = "channel"  # a sales channel (web shop, app, till): profiles, any store's stock and reservations
    HQ = "hq"  # a channel that also sees and commands the fleet
    STORE = "store"  # one store's staff: its stock, reservations and requests only


@dataclass(frozen=True)
class Grant:
    """What the caller of a key may do: its role, and for a store key its store."""

    role: KeyRole
    store: str | None = None

    def may_act_in(self, store: str) -> bool:
        """Whether the caller may see and change ``store``'s stock, reservations and requests."""
        return self.role is not KeyRole.STORE or self.store == store


@dataclass(frozen=True)
class ApiKeys:
    """Each caller's API key and its grant (a channel's unless ``grants`` says otherwise)."""

    keys: Mapping[str, str]
    fleet_channels: frozenset[str] = field(default_factory=lambda: frozenset({"hq"}))
    grants: Mapping[str, Grant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, grant in self.grants.items():
            if name not in self.keys:
                raise CredentialsError(f"a role is given to {name!r}, which has no key")
            if (grant.role is KeyRole.STORE) != (grant.store is not None) or not is_channel(grant.store or "x"):
                raise CredentialsError(f"{name!r}: a store key names its store (a store id), and only a store key "
                                       "names one")
        for channel, key in self.keys.items():
            if not is_channel(channel):
                raise CredentialsError(f"not a channel name: {channel!r} (lowercase letters, digits and '-')")
            if len(key) < MIN_KEY_LENGTH or not _KEY.match(key):
                raise CredentialsError(f"the key of channel {channel!r} is shorter than {MIN_KEY_LENGTH} characters or "
                                       "not base64url (A-Z a-z 0-9 - _): a key needs 128 bits at least")
        if len(set(self.keys.values())) != len(self.keys):
            raise CredentialsError("two channels share one API key: a key must name one channel")

    def channel_for(self, key: str | None) -> str | None:
        """The channel a key belongs to, or None for a missing or unknown key."""
        if not key:
            return None
        found = None
        for channel, known in self.keys.items():  # every key compared, in constant time each
            if hmac.compare_digest(known.encode(), key.encode()):
                found = channel
        return found

    def grant(self, name: str) -> Grant:
        """What the key named ``name`` may do."""
        return self.grants.get(name) or Grant(KeyRole.HQ if name in self.fleet_channels else KeyRole.CHANNEL)

    def may_use_fleet(self, channel: str) -> bool:
        """Whether a channel may see the fleet and send kiosks commands."""
        return self.grant(channel).role is KeyRole.HQ

    def session_token(self, channel: str, now: float | None = None) -> str:
        """A dashboard sign-in token for ``channel``, valid for 12 hours.

        It is signed with the channel's key, so every HQ process that has the key file
        accepts it, and rotating the key signs everyone out; its random part makes each
        sign-in's token its own, so signing out ends that one only.
        """
        expires = int((now if now is not None else time.time()) + SESSION_TTL_S)
        nonce = secrets.token_urlsafe(12)
        return f"{channel}.{expires}.{nonce}.{self._signature(channel, expires, nonce)}"

    def channel_for_session(self, token: str | None, now: float | None = None) -> str | None:
        """The channel a dashboard token was issued to, or None if forged or expired."""
        try:
            channel, expires_text, nonce, signature = (token or "").split(".")
            expires = int(expires_text)
        except ValueError:
            return None
        if channel not in self.keys or expires < (now if now is not None else time.time()):
            return None
        return channel if hmac.compare_digest(signature, self._signature(channel, expires, nonce)) else None

    @staticmethod
    def session_expiry(token: str) -> int:
        """When a (valid) dashboard token expires, in seconds since the epoch."""
        return int(token.split(".")[1])

    def _signature(self, channel: str, expires: int, nonce: str) -> str:
        return hmac.new(self.keys[channel].encode(), f"dashboard:{channel}.{expires}.{nonce}".encode(),
                        hashlib.sha256).hexdigest()


def is_channel(name: str) -> bool:
    """Whether ``name`` may name a channel: lowercase letters, digits and '-', as the key file's."""
    return bool(_CHANNEL.match(name))


def new_api_key() -> str:
    """A fresh channel key: 256 random bits, base64url."""
    return secrets.token_urlsafe(32)


def write_new_api_keys(path: Path, channels: tuple[str, ...]) -> ApiKeys:
    """Write a new key file with a fresh key for each of ``channels``, readable by its owner only.

    Raises:
        CredentialsError: ``path`` exists (keys are never replaced by accident), or a channel name is unfit.
    """
    if path.exists():
        raise CredentialsError(f"{path} exists; keys are never replaced by accident")
    keys = ApiKeys({channel: new_api_key() for channel in channels})
    write_atomically(path, (json.dumps(dict(keys.keys), indent=2) + "\n").encode())
    return keys


def load_api_keys(path: Path, fleet_channels: frozenset[str] = frozenset({"hq"})) -> ApiKeys:
    """Read the channels' keys from a JSON file.

    Raises:
        CredentialsError: the file is missing, not a JSON object of strings, or a key is unfit.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read API keys from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CredentialsError(f"{path} must hold a JSON object of name -> key (or -> {{key, role, store}})")
    keys: dict[str, str] = {}
    grants: dict[str, Grant] = {}
    for name, entry in data.items():
        if isinstance(entry, str):
            keys[name] = entry
            continue
        keys[name], grants[name] = _keyed_grant(path, name, entry)
    return ApiKeys(keys, fleet_channels, grants)


def _keyed_grant(path: Path, name: str, entry: Any) -> tuple[str, Grant]:
    """The key and grant of one ``{"key", "role", "store"?}`` entry of a key file."""
    roles = ", ".join(role.value for role in KeyRole)
    if (not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or set(entry) - {"key", "role", "store"}
            or entry.get("role") not in {role.value for role in KeyRole}
            or not isinstance(entry.get("store", ""), str)):
        raise CredentialsError(f"{path}: {name!r} must be a key, or {{\"key\": ..., \"role\": one of {roles}, "
                               "\"store\": ... for a store key}")
    return entry["key"], Grant(KeyRole(entry["role"]), entry.get("store"))
