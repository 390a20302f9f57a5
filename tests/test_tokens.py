"""Signed card and badge tokens: only HQ's, only unexpired, only of the right role."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nfc_reader import Role, TokenError, issue_token, public_key_from_pem, public_key_to_pem, verify_token

HQ = Ed25519PrivateKey.generate()


def test_valid_token_verifies() -> None:
    token = verify_token(HQ.public_key(), issue_token(HQ, "shopper-1", Role.SHOPPER, 60), Role.SHOPPER)
    assert token.subject == "shopper-1"
    assert token.role is Role.SHOPPER


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (issue_token(Ed25519PrivateKey.generate(), "shopper-1", Role.SHOPPER, 60), "signature"),
        (issue_token(HQ, "shopper-1", Role.SHOPPER, -10), "expired"),
        (issue_token(HQ, "staff-1", Role.STAFF, 60), "staff token where a shopper token"),
        ("not-a-token", "malformed"),
        ("a.b.c", "malformed"),
        ("!!!.???", "malformed"),
    ],
)
def test_bad_tokens_are_rejected_with_a_reason(token: str, reason: str) -> None:
    with pytest.raises(TokenError, match=reason):
        verify_token(HQ.public_key(), token, Role.SHOPPER)


def test_tampered_payload_is_rejected() -> None:
    signature = issue_token(HQ, "shopper-1", Role.SHOPPER, 60).split(".")[1]
    forged = issue_token(HQ, "shopper-2", Role.SHOPPER, 60).split(".")[0]
    with pytest.raises(TokenError, match="signature"):
        verify_token(HQ.public_key(), f"{forged}.{signature}", Role.SHOPPER)


def test_expiry_is_judged_against_the_given_clock() -> None:
    token = issue_token(HQ, "shopper-1", Role.SHOPPER, 60)
    with pytest.raises(TokenError, match="expired"):
        verify_token(HQ.public_key(), token, Role.SHOPPER, now=time.time() + 3600)


def test_public_key_pem_round_trip_and_bad_pem() -> None:
    key = public_key_from_pem(public_key_to_pem(HQ.public_key()))
    assert verify_token(key, issue_token(HQ, "s", Role.SHOPPER, 60), Role.SHOPPER).subject == "s"
    with pytest.raises(TokenError):
        public_key_from_pem(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
