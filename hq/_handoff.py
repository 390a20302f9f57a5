"""Hand-off links: a kiosk's visit continued on the shopper's phone.

A kiosk asks for a link over MQTT (``HandoffRequest``); HQ's responder answers with
``<public URL>/h/<token>``. The token is sealed with HQ's hand-off key (AES-256-GCM, a
secret kept in a file readable by its owner only): nobody without the key can read
it, make one, or change a byte of one. It says which store, kiosk and visit it
continues, the shopper only when the kiosk proved them with their card and they
consented, when it expires (minutes after it was made) and a random nonce, by which
the first phone to open it takes it for good (``PhoneSessions.exchange``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hq.exceptions import CredentialsError, HandoffRefused, LinkRefusal
from kiosk_protocol import (
    SHOPPER_PATTERN,
    CardRefused,
    CardVerifier,
    ContractError,
    HandoffRequest,
    HandoffResponse,
    kiosk_topics,
)

log = logging.getLogger(__name__)

LINK_TTL_S = 10 * 60
HANDOFF_PATH = "/h/"
_KEY_BYTES = 32
_IV_BYTES = 12
_NONCE_BYTES = 16
_PURPOSE = b"nfc-kiosk hand-off link v1"  # bound into every token: no other sealed text passes for one
_VERSION = 1
_HEAD = struct.Struct(">BI16s16s")  # version, expiry (s since the epoch), session, nonce
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{40,400}$")
_SHOPPER = re.compile(SHOPPER_PATTERN)


@dataclass(frozen=True)
class HandoffClaims:
    """What a hand-off link says: the visit it continues, whose it is, until when, and its nonce."""

    store: str
    kiosk: str
    session: uuid.UUID
    shopper: str | None
    expires_at: int  # seconds since the epoch
    nonce: str  # hex; the link's one use is recorded under it


class HandoffKey:
    """HQ's secret for sealing and opening hand-off links."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != _KEY_BYTES:
            raise CredentialsError(f"a hand-off key is {_KEY_BYTES} bytes, not {len(secret)}")
        self._aead = AESGCM(secret)

    @classmethod
    def from_file(cls, path: Path) -> HandoffKey:
        """The key kept in ``path``, made there first (readable by its owner only) when the file is missing.

        Every HQ process given the same file opens the others' links.

        Raises:
            CredentialsError: the file is unreadable, not a key, or readable by others.
        """
        if not path.exists():
            _create_key_file(path)
        try:
            mode = path.stat().st_mode & 0o777
            text = path.read_text().strip()
        except OSError as exc:
            raise CredentialsError(f"cannot read the hand-off key {path}: {exc.strerror}") from exc
        if mode & 0o077:
            raise CredentialsError(f"the hand-off key {path} is readable by others (mode {mode:o}): chmod 600 it")
        try:
            return cls(bytes.fromhex(text))
        except ValueError as exc:
            raise CredentialsError(f"{path} does not hold a hand-off key ({_KEY_BYTES * 2} hex digits)") from exc

    def seal(self, claims: HandoffClaims) -> str:
        """The token of ``claims``: opaque, and authentic only with this key."""
        head = _HEAD.pack(_VERSION, claims.expires_at, claims.session.bytes, bytes.fromhex(claims.nonce))
        body = "\n".join([claims.store, claims.kiosk, claims.shopper or ""]).encode()
        iv = os.urandom(_IV_BYTES)
        return base64.urlsafe_b64encode(iv + self._aead.encrypt(iv, head + body, _PURPOSE)).rstrip(b"=").decode()

    def open(self, token: str) -> HandoffClaims:
        """What ``token`` says, whether or not it has expired (the caller judges that).

        Raises:
            HandoffRefused: not a token at all (``MALFORMED``), or not sealed by this key, or
                changed since (``FORGED``).
        """
        if not _TOKEN.match(token):
            raise HandoffRefused(LinkRefusal.MALFORMED, "not a hand-off token")
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._aead.decrypt(sealed[:_IV_BYTES], sealed[_IV_BYTES:], _PURPOSE)
        except (binascii.Error, ValueError) as exc:
            raise HandoffRefused(LinkRefusal.MALFORMED, "not a hand-off token") from exc
        except InvalidTag as exc:
            raise HandoffRefused(LinkRefusal.FORGED, "the link was not made by HQ, or was changed") from exc
        # Authentic, so HQ made it; checked all the same, as anything HQ reads back.
        try:
            version, expires_at, session, nonce = _HEAD.unpack_from(plain)
            parts = plain[_HEAD.size:].decode().split("\n")
        except (struct.error, UnicodeDecodeError) as exc:
            raise HandoffRefused(LinkRefusal.FORGED, "a hand-off token of an unknown form") from exc
        if version != _VERSION or len(parts) != 3:
            raise HandoffRefused(LinkRefusal.FORGED, f"a hand-off token of an unknown form (version {version})")
        store, kiosk, shopper = parts
        try:
            kiosk_topics(store, kiosk)
        except ContractError as exc:
            raise HandoffRefused(LinkRefusal.FORGED, str(exc)) from exc
        if shopper and not _SHOPPER.match(shopper):
            raise HandoffRefused(LinkRefusal.FORGED, "the link names no valid shopper")
        return HandoffClaims(store, kiosk, uuid.UUID(bytes=session), shopper or None, expires_at, nonce.hex())


class HandoffSigner:
    """Answers kiosks' hand-off requests with links under ``public_url``."""

    def __init__(self, key: HandoffKey, public_url: str, verify_card: CardVerifier,
                 clock: Callable[[], float] = time.time, ttl_s: int = LINK_TTL_S) -> None:
        if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", public_url):
            raise CredentialsError(f"not a public URL for phone pages: {public_url!r} (http(s)://host[:port][/path])")
        self.public_url = public_url.rstrip("/")
        self._key, self._verify_card, self._clock, self._ttl_s = key, verify_card, clock, ttl_s

    def answer(self, store: str, kiosk: str, request: HandoffRequest) -> HandoffResponse:
        """A link continuing the visit of ``request`` at ``store``/``kiosk`` (the topic's, never the payload's word).

        A shopper is named in the link only when their card's token proves them.
        """
        if request.shopper is not None:
            try:
                holder = self._verify_card(request.token or "")
            except CardRefused as exc:
                return HandoffResponse(request_id=request.request_id, error=f"card refused: {exc}")
            if holder != request.shopper:
                return HandoffResponse(request_id=request.request_id,
                                       error="the card does not belong to this shopper")
        expires_at = int(self._clock()) + self._ttl_s
        claims = HandoffClaims(store, kiosk, request.session, request.shopper, expires_at,
                               secrets.token_bytes(_NONCE_BYTES).hex())
        return HandoffResponse(request_id=request.request_id,
                               url=f"{self.public_url}{HANDOFF_PATH}{self._key.seal(claims)}",
                               expires_at=datetime.fromtimestamp(expires_at, UTC))


def _create_key_file(path: Path) -> None:
    """Write a fresh key to ``path`` unless another process got there first (then theirs is kept)."""
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_bytes(_KEY_BYTES).hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(partial, path)  # whole or not at all, and never over another's key
            log.info("made a new hand-off key in %s", path)
        except FileExistsError:
            pass
    finally:
        partial.unlink(missing_ok=True)
