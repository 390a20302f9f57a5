"""What a card or badge tap proves: its token checked against HQ's key (see
``kiosk_protocol`` for the tokens themselves)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk_protocol import Role, Token, TokenError, verify_token
from nfc_reader._tagread import TagKind, TagRead


@dataclass(frozen=True)
class IdentityCheck:
    """What a card or badge tap proves: a verified token, or the reason it proves nothing."""

    kind: TagKind
    uid: str
    token: Token | None = None
    reason: str = ""

    @property
    def verified(self) -> bool:
        """True when the tap carried a valid token of the role its tag kind calls for."""
        return self.token is not None


_ROLE_OF_KIND = {TagKind.SHOPPER_CARD: Role.SHOPPER, TagKind.STAFF_BADGE: Role.STAFF}


def check_identity(read: TagRead, key: Ed25519PublicKey, now: float | None = None) -> IdentityCheck:
    """Verify the token a card or badge tap carries; never raises.

    A loyalty card must carry a shopper token and a staff badge a staff token, signed by
    HQ and unexpired; anything else comes back unverified with the reason.
    """
    role = _ROLE_OF_KIND.get(read.kind)
    if role is None:
        return IdentityCheck(read.kind, read.uid, reason=f"a {read.kind.value} tap is not a card or badge")
    if read.token is None:
        return IdentityCheck(read.kind, read.uid, reason="the tag carries no token")
    try:
        return IdentityCheck(read.kind, read.uid, token=verify_token(key, read.token, role, now))
    except TokenError as exc:
        return IdentityCheck(read.kind, read.uid, reason=str(exc))
