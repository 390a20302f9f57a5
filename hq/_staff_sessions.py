"""Who is signed in to a store's staff page, and for which store: plain Python, no HTTP.

A member of staff signs in with their store's key (a key file entry of role ``store``)
or their staff badge (the token ``kiosk hq issue-badge`` signs): a badge made for one
store opens that store only; a badge without a store (an area manager's) opens the store
named at sign-in. Either way the browser gets a session token for ONE store, signed by
HQ: ``<payload>.<signature>``, the payload base64url JSON ``{"store", "by", "exp", "n"}``.

The signing secret is derived from HQ's key file, so every HQ process with the same file
accepts the token, and changing the file signs every member of staff out. A session lasts
12 hours at most, and never beyond the badge it was opened with. Signing out revokes the
token in the profile database (as the dashboard's), so no HQ process takes it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hq._auth import SESSION_TTL_S, ApiKeys, KeyRole
from hq.exceptions import Refused
from kiosk_protocol import Role, TokenError, verify_token

STAFF_COOKIE = "hq_staff_session"
_STORE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_NOT_IN_A_CHANNEL = re.compile(r"[^a-z0-9-]+")


class StaffSignInRefused(Refused):
    """A sign-in refused."""


@dataclass(frozen=True)
class StaffSession:
    """A signed-in member of staff: the store they act in, and the channel their moves are stored as."""

    store: str
    by: str  # a store key's channel (``madrid-staff``), or ``badge-<staff id>``
    expires_at: int  # unix seconds


class StaffSessions:
    """Opens staff sessions from store keys and badges, and checks their tokens."""

    def __init__(self, keys: ApiKeys, badge_key: Ed25519PublicKey | None) -> None:
        self._keys = keys
        self._badge_key = badge_key
        material = json.dumps(sorted(keys.keys.items())).encode()
        self._secret = hashlib.sha256(b"kiosk-hq staff sessions\0" + material).digest()

    def sign_in(self, credential: str, store: str | None, now: float | None = None) -> tuple[StaffSession, str]:
        """A session (and its token) for the store key or badge ``credential``, in ``store`` when named.

        Raises:
            StaffSignInRefused: ``unauthorized`` (401: no store key nor valid badge), ``other_store``
                (403: a key or badge of another store than ``store``), ``store_required`` (422: a
                badge of every store, and no store named).
        """
        moment = time.time() if now is None else now
        if store is not None and not _STORE.match(store):
            raise StaffSignInRefused(422, "invalid_request", "not a store id")
        if "." in credential:  # a badge's token is <payload>.<signature>; a key has no dot
            by, own_store, expires = self._badge(credential, moment)
        else:
            by, own_store = self._store_key(credential)
            expires = moment + SESSION_TTL_S
        if own_store is not None and store is not None and own_store != store:
            raise StaffSignInRefused(403, "other_store", f"this is staff of {own_store}, not of {store}")
        chosen = own_store or store
        if chosen is None:
            raise StaffSignInRefused(422, "store_required", "this badge opens every store: name the store")
        session = StaffSession(chosen, by, int(min(expires, moment + SESSION_TTL_S)))
        return session, self._token(session)

    def session(self, token: str | None, now: float | None = None) -> StaffSession | None:
        """The session a token stands for, or None if forged, malformed or expired (not revocation:
        the caller checks that against the profile database)."""
        try:
            payload_b64, signature = (token or "").split(".")
            payload = base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4))
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(signature, self._signature(payload_b64)):
            return None
        try:
            claims = json.loads(payload)
            session = StaffSession(str(claims["store"]), str(claims["by"]), int(claims["exp"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires_at >= (time.time() if now is None else now) else None

    def _store_key(self, key: str) -> tuple[str, str | None]:
        channel = self._keys.channel_for(key)
        grant = self._keys.grant(channel) if channel else None
        if channel is None or grant is None or grant.role is not KeyRole.STORE:
            raise StaffSignInRefused(401, "unauthorized", "that is neither a store's key nor a staff badge")
        return channel, grant.store

    def _badge(self, token: str, now: float) -> tuple[str, str | None, float]:
        if self._badge_key is None:
            raise StaffSignInRefused(401, "unauthorized", "this HQ takes store keys only (it has no HQ key)")
        try:
            badge = verify_token(self._badge_key, token, Role.STAFF, now=now)
        except TokenError as exc:
            raise StaffSignInRefused(401, "unauthorized", f"not a valid staff badge: {exc}") from exc
        name = _NOT_IN_A_CHANNEL.sub("-", badge.subject.lower()).strip("-")[:50] or "staff"
        return f"badge-{name}", badge.store, badge.expires_at

    def _token(self, session: StaffSession) -> str:
        claims = {"store": session.store, "by": session.by, "exp": session.expires_at, "n": secrets.token_urlsafe(12)}
        payload_b64 = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
        return f"{payload_b64.decode()}.{self._signature(payload_b64.decode())}"

    def _signature(self, payload_b64: str) -> str:
        return hmac.new(self._secret, f"staff:{payload_b64}".encode(), hashlib.sha256).hexdigest()
