"""The clock check offers go by: the update path's skew, against the newest time HQ signed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app._clock_trust import SignedTime, clock_trusted
from kiosk_protocol import (
    MAX_CLOCK_SKEW_S,
    FileEntry,
    Manifest,
    Refusal,
    UpdateKind,
    UpdateRefused,
    sign_manifest,
    verify_manifest,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(seconds=MAX_CLOCK_SKEW_S)
HQ = Ed25519PrivateKey.generate()


def test_the_skew_is_the_update_paths_ten_minutes() -> None:
    assert MAX_CLOCK_SKEW_S == 600
    assert clock_trusted(NOW, None)
    assert clock_trusted(NOW, NOW + SKEW) and not clock_trusted(NOW, NOW + SKEW + timedelta(microseconds=1))
    assert clock_trusted(NOW, NOW - timedelta(days=365))


def test_the_newest_signed_time_is_kept_across_restarts_and_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "signed-time.json"
    kept = SignedTime(path)
    assert kept.newest is None
    assert kept.note(NOW) and not kept.note(NOW - timedelta(hours=1)) and not kept.note(NOW)
    assert SignedTime(path).newest == NOW
    assert kept.note(NOW + timedelta(minutes=1)) and SignedTime(path).newest == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("content", [b"", b"{", b'{"newest": 5}', b'{"newest": "yesterday"}', b"[]",
                                     b'{"newest": "2026-12-01T12:00:00"}'])
def test_an_unreadable_signed_time_file_is_none_known(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "signed-time.json").write_bytes(content)
    kept = SignedTime(tmp_path / "signed-time.json")
    assert kept.newest is None
    assert kept.note(NOW) and SignedTime(tmp_path / "signed-time.json").newest == NOW


def test_a_manifest_refused_as_made_after_the_kiosks_clock_carries_the_time_hq_signed() -> None:
    signed_at = NOW + 2 * SKEW
    envelope = sign_manifest(HQ, Manifest(kind=UpdateKind.CATALOG, version=1, created_at=signed_at,
                                          expires_at=signed_at + timedelta(days=1),
                                          files={"meta.json": FileEntry(sha256="0" * 64, size=1)}))
    with pytest.raises(UpdateRefused) as refused:
        verify_manifest(HQ.public_key(), envelope, UpdateKind.CATALOG, 0, NOW)
    assert refused.value.reason is Refusal.NOT_YET_VALID and refused.value.signed_at == signed_at
    with pytest.raises(UpdateRefused) as forged:  # a forger's time proves nothing and is not carried
        verify_manifest(Ed25519PrivateKey.generate().public_key(), envelope, UpdateKind.CATALOG, 0, NOW)
    assert forged.value.reason is Refusal.BAD_SIGNATURE and forged.value.signed_at is None
