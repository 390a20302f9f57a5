"""Signed card and badge tokens: only HQ's, only unexpired, only of the right role."""

from __future__ import annotations

import base64
import contextlib
import pickle
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from kiosk_protocol import (
    CardRefused,
    Role,
    TokenError,
    card_verifier,
    issue_token,
    public_key_from_pem,
    public_key_to_pem,
    verify_token,
)
from nfc_reader import TagKind, TagRead, check_identity

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


# --- A tap -> a verified identity, or the reason there is none. ---------------------------

UID = "02FE000000000009"
# Made at collection time, long before these tests run in a full suite: valid for a day.
SHOPPER = issue_token(HQ, "shopper-1", Role.SHOPPER, 86_400)
STAFF = issue_token(HQ, "staff-1", Role.STAFF, 86_400)

# (what, the tap, verified subject or None, reason fragment)
IDENTITY_CASES = [
    ("loyalty card", TagRead(TagKind.SHOPPER_CARD, UID, token=SHOPPER), "shopper-1", ""),
    ("staff badge", TagRead(TagKind.STAFF_BADGE, UID, token=STAFF), "staff-1", ""),
    ("staff token on a loyalty card", TagRead(TagKind.SHOPPER_CARD, UID, token=STAFF), None,
     "staff token where a shopper token"),
    ("shopper token on a badge", TagRead(TagKind.STAFF_BADGE, UID, token=SHOPPER), None,
     "shopper token where a staff token"),
    ("forged badge", TagRead(TagKind.STAFF_BADGE, UID,
                             token=issue_token(Ed25519PrivateKey.generate(), "boss", Role.STAFF, 60)), None,
     "signature"),
    ("expired badge", TagRead(TagKind.STAFF_BADGE, UID, token=issue_token(HQ, "staff-1", Role.STAFF, -1)), None,
     "expired"),
    ("garbage on a card", TagRead(TagKind.SHOPPER_CARD, UID, token="garbage"), None, "malformed"),
    ("card without token", TagRead(TagKind.SHOPPER_CARD, UID), None, "no token"),
    ("product tap", TagRead(TagKind.PRODUCT, UID, sku="BOOT-1"), None, "not a card or badge"),
    ("unreadable tap", TagRead.unreadable(UID, "malformed NDEF"), None, "not a card or badge"),
]


@pytest.mark.parametrize(("what", "read", "subject", "reason"), IDENTITY_CASES, ids=[c[0] for c in IDENTITY_CASES])
def test_check_identity(what: str, read: TagRead, subject: str | None, reason: str) -> None:
    check = check_identity(read, HQ.public_key())
    assert (check.kind, check.uid) == (read.kind, read.uid)
    assert check.verified is (subject is not None)
    assert (check.token.subject if check.token else None) == subject
    assert reason in check.reason and bool(check.reason) is (subject is None)


def test_check_identity_judges_expiry_against_the_given_clock() -> None:
    read = TagRead(TagKind.STAFF_BADGE, UID, token=STAFF)
    assert check_identity(read, HQ.public_key(), now=time.time()).verified
    assert "expired" in check_identity(read, HQ.public_key(), now=time.time() + 2 * 86_400).reason


@given(st.text(max_size=300))
def test_arbitrary_tokens_only_raise_token_error(token: str) -> None:
    with contextlib.suppress(TokenError):
        verify_token(HQ.public_key(), token, Role.SHOPPER)
    assert not check_identity(TagRead(TagKind.SHOPPER_CARD, UID, token=token), HQ.public_key()).verified


def test_a_token_has_one_spelling() -> None:
    token = issue_token(HQ, "shopper-1", Role.SHOPPER, 60)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # The last character of the 64-byte signature carries 2 bits and 4 spare ones.
    respelled = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    with pytest.raises(TokenError, match="canonical"):
        verify_token(HQ.public_key(), respelled, Role.SHOPPER)


def test_a_badge_for_one_store_opens_that_store_s_kiosks_only() -> None:
    badge = issue_token(HQ, "staff-0007", Role.STAFF, 60, store="madrid-centro")
    area_manager = issue_token(HQ, "staff-0001", Role.STAFF, 60)
    assert verify_token(HQ.public_key(), badge, Role.STAFF).store == "madrid-centro"
    madrid, barcelona = (card_verifier(HQ.public_key(), Role.STAFF, store=s) for s in ("madrid-centro", "barcelona"))
    assert madrid(badge) == "staff-0007"
    with pytest.raises(CardRefused, match="a badge of store madrid-centro, not of barcelona"):
        barcelona(badge)
    assert barcelona(area_manager) == madrid(area_manager) == "staff-0001"  # no store named: every store
    assert pickle.loads(pickle.dumps(barcelona))(area_manager) == "staff-0001"
    with pytest.raises(CardRefused):
        pickle.loads(pickle.dumps(barcelona))(badge)  # the store travels with the check


def test_only_a_badge_names_a_store_and_only_by_its_id() -> None:
    with pytest.raises(TokenError, match="only a staff badge"):
        issue_token(HQ, "shopper-1", Role.SHOPPER, 60, store="madrid-centro")
    with pytest.raises(TokenError, match="only a staff badge"):
        issue_token(HQ, "staff-1", Role.STAFF, 60, store="Madrid/#")


def test_a_badge_without_a_store_is_spelled_as_before() -> None:
    payload = issue_token(HQ, "staff-1", Role.STAFF, 60).split(".")[0]
    assert "store" not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
