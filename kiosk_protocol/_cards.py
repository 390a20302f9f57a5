"""Loyalty cards and staff badges as the kiosk and HQ check them: signed by HQ, unexpired,
and of the right role."""

from __future__ import annotations

from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk_protocol._tokens import Role, public_key_from_pem, public_key_to_pem, verify_token
from kiosk_protocol.exceptions import CardRefused, TokenError


class CardVerifier(Protocol):
    """What the kiosk and HQ are handed to check a card: token (and when it was read) to the
    person it names, or CardRefused."""

    def __call__(self, token: str, read_at: float | None = None, /) -> str:
        """The person the token names, unexpired at ``read_at`` (unix seconds; now if None)."""


class CardCheck:
    """A function from a card (or badge) token to the person it names; it raises CardRefused.

    Given a ``store``, a staff badge made for another store is refused. It pickles (as HQ's
    public key in PEM), so ingest worker processes can be handed one.
    """

    def __init__(self, hq_key: Ed25519PublicKey, role: Role = Role.SHOPPER, store: str | None = None) -> None:
        self._key = hq_key
        self._role = role
        self._store = store

    def __call__(self, token: str, read_at: float | None = None) -> str:
        """The person the token names; unexpired at ``read_at`` (unix seconds; now by default)."""
        try:
            checked = verify_token(self._key, token, self._role, now=read_at)
        except TokenError as exc:
            raise CardRefused(str(exc)) from exc
        if self._store is not None and checked.store not in (None, self._store):
            raise CardRefused(f"a badge of store {checked.store}, not of {self._store}")
        return checked.subject

    def __reduce__(self) -> tuple[Any, ...]:
        return _card_check_from_pem, (public_key_to_pem(self._key), self._role, self._store)


def card_verifier(hq_key: Ed25519PublicKey, role: Role = Role.SHOPPER, store: str | None = None) -> CardCheck:
    """A function from a card (or badge) token to the person it names; it raises CardRefused."""
    return CardCheck(hq_key, role, store)


def _card_check_from_pem(pem: bytes, role: Role, store: str | None) -> CardCheck:
    return CardCheck(public_key_from_pem(pem), role, store)
