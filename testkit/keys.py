"""HQ's signing key, as a test or benchmark plays HQ, and the public half a kiosk is provisioned with."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_protocol import public_key_to_pem


def hq_signing_key(directory: Path) -> tuple[Ed25519PrivateKey, Path]:
    """A fresh HQ key, and the path of its public key PEM written into ``directory``."""
    key = Ed25519PrivateKey.generate()
    pem = directory / "hq_public_key.pem"
    pem.write_bytes(public_key_to_pem(key.public_key()))
    return key, pem
