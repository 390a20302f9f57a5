"""Staff sessions: a store key or badge opens one store's session, for 12 hours at most and
never beyond its badge; a token tampered with, expired, or signed before the key file
changed stands for nobody."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ApiKeys, Grant, KeyRole, StaffSessions
from hq._staff_sessions import StaffSignInRefused
from kiosk_protocol import Role, issue_token

KEYS = {"madrid-staff": "madrid-key-0123456789abcdef", "web": "web-key-0123456789abcdef"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro")}
BADGE_KEY = Ed25519PrivateKey.generate()


def _sessions(keys: dict[str, str] = KEYS) -> StaffSessions:
    return StaffSessions(ApiKeys(keys, grants=GRANTS), BADGE_KEY.public_key())


def test_a_store_keys_session_is_its_stores_for_twelve_hours() -> None:
    now = time.time()
    session, token = _sessions().sign_in(KEYS["madrid-staff"], None, now=now)
    assert (session.store, session.by, session.expires_at) == ("madrid-centro", "madrid-staff", int(now + 12 * 3600))
    assert _sessions().session(token) == session  # another HQ process with the same key file
    assert _sessions().session(token, now=now + 12 * 3600 + 1) is None


def test_a_badge_session_ends_with_its_badge() -> None:
    badge = issue_token(BADGE_KEY, "Ana García", Role.STAFF, 600, store="madrid-centro")
    session, _ = _sessions().sign_in(badge, "madrid-centro")
    assert session.by == "badge-ana-garc-a" and session.expires_at <= time.time() + 600


@pytest.mark.parametrize("spoil", [
    lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),  # the signature
    lambda token: base64.urlsafe_b64encode(json.dumps({"store": "barcelona-diagonal", "by": "x",
                                                       "exp": 2**40, "n": "x"}).encode()).decode().rstrip("=")
    + "." + token.split(".")[1],  # another store under the same signature
    lambda token: token.replace(".", ""),
    lambda token: "",
])
def test_a_token_tampered_with_stands_for_nobody(spoil: object) -> None:
    _, token = _sessions().sign_in(KEYS["madrid-staff"], None)
    assert _sessions().session(spoil(token)) is None  # type: ignore[operator]


def test_changing_the_key_file_signs_everyone_out() -> None:
    _, token = _sessions().sign_in(KEYS["madrid-staff"], None)
    rotated = {**KEYS, "madrid-staff": "madrid-key-rotated-0123456789"}
    assert _sessions(rotated).session(token) is None


def test_without_hqs_key_a_badge_is_refused_with_a_reason() -> None:
    badge = issue_token(BADGE_KEY, "staff-1", Role.STAFF, 600, store="madrid-centro")
    with pytest.raises(StaffSignInRefused) as refused:
        StaffSessions(ApiKeys(KEYS, grants=GRANTS), None).sign_in(badge, None)
    assert (refused.value.status, refused.value.error) == (401, "unauthorized")
