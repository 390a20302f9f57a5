"""Loyalty cards and staff badges as the kiosk and HQ check them: signed by HQ, unexpired,
and of the right role."""

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend_sync import CardRefused
from nfc_reader import Role, TokenError, verify_token


def card_verifier(hq_key: Ed25519PublicKey, role: Role = Role.SHOPPER) -> Callable[[str], str]:
    """A function from a card (or badge) token to the person it names; it raises CardRefused."""

    def verify(token: str) -> str:
        try:
            return verify_token(hq_key, token, role).subject
        except TokenError as exc:
            raise CardRefused(str(exc)) from exc

    return verify
