"""Signed update manifests: what HQ promises a catalog or model version consists of.

A manifest names a version, when it was made and when it expires, and the size and
SHA-256 of every file (plus optional deltas from the previous version's files). HQ
signs its canonical bytes with Ed25519; the envelope carries those exact bytes, so
nothing is re-serialised before checking. A kiosk accepts a manifest only if the
signature is HQ's, the kind is the one it asked for, the version is newer than what
it has (no rollback), and the manifest has not expired (no freeze attack), allowing
``MAX_CLOCK_SKEW_S`` for kiosk clocks. Every downloaded file must then match its hash
(so files of one version cannot be passed off under another's manifest).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from datetime import datetime, timedelta
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk_protocol.exceptions import SyncError

MAX_CLOCK_SKEW_S = 600  # a kiosk clock up to 10 minutes off is tolerated
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
# Segments start with a letter or digit and dots sit only between name characters: no
# "..", no absolute paths, so a file can never land outside the kiosk's version folder.
PATH_SEGMENT = r"[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*"
LogicalPath = Annotated[str, Field(pattern=rf"^{PATH_SEGMENT}(/{PATH_SEGMENT}){{0,8}}$", max_length=200)]


class UpdateKind(enum.Enum):
    """What a manifest updates."""

    CATALOG = "catalog"
    MODEL = "model"
    SOFTWARE = "software"  # the kiosk's own software (``_release``), announced to each kiosk on its own topic


class Refusal(enum.Enum):
    """Why an update was refused."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    WRONG_KIND = "wrong_kind"
    NOT_NEWER = "not_newer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    FILE_MISMATCH = "file_mismatch"
    DOWNLOAD_FAILED = "download_failed"
    TOO_LARGE = "too_large"
    INVALID_CONTENT = "invalid_content"
    STORAGE_FAILED = "storage_failed"  # the kiosk's own disk refused (full): retried later
    FAILED_HERE = "failed_here"  # a software release that failed its health check on this kiosk before


class UpdateRefused(SyncError):
    """An update the kiosk will not apply; its last good version stays in use."""

    def __init__(self, reason: Refusal, detail: str, signed_at: datetime | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        # A manifest refused for being made after the kiosk's clock, when HQ's signature
        # on it checked: the time HQ signed, proof that the kiosk's clock is behind.
        self.signed_at = signed_at


class FileEntry(BaseModel):
    """One file of a version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sha256: Sha256
    size: int = Field(ge=0)


class DeltaEntry(FileEntry):
    """A patch that turns the previous version's file (``from_sha256``) into this one's."""

    from_sha256: Sha256


class Manifest(BaseModel):
    """What one version consists of."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    v: Literal[1] = 1
    kind: UpdateKind
    version: int = Field(ge=1)
    created_at: datetime
    expires_at: datetime
    files: dict[LogicalPath, FileEntry]
    deltas: dict[LogicalPath, DeltaEntry] = Field(default_factory=dict)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: str
    signature: str


def sign_manifest(key: Ed25519PrivateKey, manifest: Manifest) -> bytes:
    """The signed envelope HQ publishes."""
    payload = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
    return _Envelope(payload=base64.b64encode(payload).decode(),
                     signature=base64.b64encode(key.sign(payload)).decode()).model_dump_json().encode()


def verify_manifest(key: Ed25519PublicKey, envelope: bytes, kind: UpdateKind, current_version: int,
                    now: datetime, max_skew_s: float = MAX_CLOCK_SKEW_S) -> Manifest:
    """Check a published manifest before anything is downloaded.

    Raises:
        UpdateRefused: with the reason (signature, kind, rollback, freeze, clock).
    """
    try:
        parsed = _Envelope.model_validate_json(envelope)
        payload = base64.b64decode(parsed.payload, validate=True)
        signature = base64.b64decode(parsed.signature, validate=True)
    except (ValidationError, binascii.Error, ValueError) as exc:
        raise UpdateRefused(Refusal.MALFORMED, "not a signed manifest") from exc
    try:
        key.verify(signature, payload)
    except InvalidSignature as exc:
        raise UpdateRefused(Refusal.BAD_SIGNATURE, "the signature is not HQ's") from exc
    try:
        manifest = Manifest.model_validate_json(payload)
    except ValidationError as exc:
        raise UpdateRefused(Refusal.MALFORMED, f"signed content is not a manifest: {exc.errors()[:2]}") from exc
    skew = timedelta(seconds=max_skew_s)
    if manifest.kind is not kind:
        raise UpdateRefused(Refusal.WRONG_KIND, f"a {manifest.kind.value} manifest where {kind.value} was expected")
    if manifest.version <= current_version:
        raise UpdateRefused(Refusal.NOT_NEWER, f"version {manifest.version} is not newer than {current_version}")
    if manifest.expires_at + skew < now:
        raise UpdateRefused(Refusal.EXPIRED, f"expired at {manifest.expires_at.isoformat()}, the kiosk clock says "
                                             f"{now.isoformat()} (a stale mirror, or a kiosk clock far ahead)")
    if manifest.created_at - skew > now:
        raise UpdateRefused(Refusal.NOT_YET_VALID, f"made at {manifest.created_at.isoformat()}, after the kiosk "
                                                   f"clock's {now.isoformat()}: the kiosk clock is far behind",
                            signed_at=manifest.created_at)
    return manifest


def unverified_manifest(envelope: bytes) -> Manifest:
    """Read a manifest without checking it: only for HQ's own published files."""
    return Manifest.model_validate_json(base64.b64decode(_Envelope.model_validate_json(envelope).payload))
