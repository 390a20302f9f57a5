"""Signed tokens on loyalty cards and staff badges.

A token is ``<payload>.<signature>``, both base64url without padding; the payload is
JSON ``{"v": 1, "sub": ..., "role": ..., "exp": <unix seconds>}`` and the signature is
Ed25519 by HQ over the payload bytes. Kiosks verify offline with HQ's public key.

A staff badge may also name its ``store``: it then opens staff mode on that store's kiosks
and its staff page only. A badge without one is HQ's (an area manager's): any store.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk_protocol.exceptions import TokenError


class Role(enum.Enum):
    """Who a token belongs to."""

    SHOPPER = "shopper"
    STAFF = "staff"


@dataclass(frozen=True)
class Token:
    """A verified token."""

    subject: str
    role: Role
    expires_at: float
    store: str | None = None  # the one store a staff badge is for (None: every store)


_STORE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def issue_token(key: Ed25519PrivateKey, subject: str, role: Role, valid_for_s: float, store: str | None = None) -> str:
    """Sign a token for ``subject`` valid for ``valid_for_s`` seconds from now (a staff badge for one ``store``)."""
    if store is not None and (role is not Role.STAFF or not _STORE_ID.match(store)):
        raise TokenError(f"only a staff badge names a store, by its id: {store!r}")
    claims: dict[str, object] = {"v": 1, "sub": subject, "role": role.value, "exp": int(time.time() + valid_for_s)}
    if store is not None:
        claims["store"] = store
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(key.sign(payload))}"


def verify_token(key: Ed25519PublicKey, token: str, role: Role, now: float | None = None) -> Token:
    """Check a token's signature, role and expiry.

    Raises:
        TokenError: the token is malformed, forged, of another role or expired.
    """
    try:
        payload_b64, signature_b64 = token.split(".")
        payload, signature = _unb64(payload_b64), _unb64(signature_b64)
    except (ValueError, binascii.Error) as exc:
        raise TokenError("malformed token") from exc
    if _b64(payload) != payload_b64 or _b64(signature) != signature_b64:
        # One token, one spelling: base64 leaves spare bits in the last character.
        raise TokenError("malformed token (not canonical base64url)")
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise TokenError("signature does not match HQ's key") from exc
    try:
        claims = json.loads(payload)
        token_role, subject, expires = Role(claims["role"]), str(claims["sub"]), float(claims["exp"])
        store = claims.get("store")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TokenError("signed payload is not a token") from exc
    if store is not None and (token_role is not Role.STAFF or not isinstance(store, str) or not _STORE_ID.match(store)):
        raise TokenError("signed payload names a store that is no store id, or on a token that is no badge")
    if token_role is not role:
        raise TokenError(f"a {token_role.value} token where a {role.value} token is needed")
    if expires < (time.time() if now is None else now):
        raise TokenError("token has expired")
    return Token(subject, token_role, expires, store)


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    """HQ's public key as PEM, the form kiosks are provisioned with."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    """Load HQ's public key from PEM.

    Raises:
        TokenError: the PEM is not an Ed25519 public key.
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise TokenError("not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise TokenError("HQ's key must be Ed25519")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
