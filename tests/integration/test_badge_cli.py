"""``kiosk hq issue-badge`` signs a staff badge for one store into a private file, and ``kiosk
nfc write --badge-file`` writes it to a tag that the store's kiosks take and others refuse."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.cli import main
from kiosk_protocol import CardRefused, Role, card_verifier, verify_token
from nfc_reader import TagEmulator, TagKind, decode_tag


def _kiosk(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_badge_issued_for_a_store_is_written_to_a_tag_and_opens_that_store_s_kiosks_only(
    emulator: TagEmulator, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    key_file = tmp_path / "hq_key.pem"
    key_file.write_bytes(hq_key[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    badge_file = tmp_path / "badge-0007.txt"
    code, output = _kiosk("hq", "issue-badge", "staff-0007", "--key", str(key_file), "--store", "madrid-centro",
                          "--days", "30", "--out", str(badge_file))
    assert code == 0, output
    token = badge_file.read_text().strip()
    assert token not in output  # never printed
    assert stat.S_IMODE(badge_file.stat().st_mode) == 0o600
    assert verify_token(hq_key[0].public_key(), token, Role.STAFF).store == "madrid-centro"

    tap = emulator.start_tap(b"", hold_s=0.1, lift_s=0.0)
    code, output = _kiosk("nfc", "write", "--badge-file", str(badge_file), "--device", emulator.path, "--timeout", "5")
    assert tap.result(timeout=5)
    assert code == 0, output
    assert "wrote the staff badge to tag" in output
    assert token not in output
    assert emulator.ndef_message is not None
    read = decode_tag(emulator.idm.hex().upper(), emulator.ndef_message)
    assert (read.kind, read.token) == (TagKind.STAFF_BADGE, token)
    assert card_verifier(hq_key[0].public_key(), Role.STAFF, store="madrid-centro")(token) == "staff-0007"
    with pytest.raises(CardRefused, match="a badge of store madrid-centro"):
        card_verifier(hq_key[0].public_key(), Role.STAFF, store="barcelona-diagonal")(token)


def test_issue_badge_refuses_what_is_no_store_id(hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    key_file = tmp_path / "hq_key.pem"
    key_file.write_bytes(hq_key[0].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    code, output = _kiosk("hq", "issue-badge", "staff-0007", "--key", str(key_file), "--store", "Madrid Centro",
                          "--out", str(tmp_path / "b.txt"))
    assert code == 2 and "only a staff badge names a store, by its id" in output
    assert not (tmp_path / "b.txt").exists()
