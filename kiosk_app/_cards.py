"""Shopper cards as the kiosk and HQ check them: signed by HQ, unexpired, a shopper's."""

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend_sync import CardRefused
from nfc_reader import Role, TokenError, verify_token


def card_verifier(hq_key: Ed25519PublicKey) -> Callable[[str], str]:
    """A function from a card token to the shopper it names; it raises CardRefused."""

    def verify(token: str) -> str:
        try:
            return verify_token(hq_key, token, Role.SHOPPER).subject
        except TokenError as exc:
            raise CardRefused(str(exc)) from exc

    return verify
