"""HQ publishes catalog and recommender model versions: content-addressed files in a
directory its file server serves, and a signed manifest announced as a retained MQTT
message.

    <directory>/objects/<sha256>          every file of every version, by hash
    <directory>/manifests/catalog-<n>     the signed manifest of catalog version n
    <directory>/manifests/model-<n>       the signed manifest of model version n
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync._bundle import MODEL, PRODUCTS, catalog_files, make_delta, sha256
from backend_sync._manifest import (
    DeltaEntry,
    FileEntry,
    Manifest,
    UpdateKind,
    sign_manifest,
    unverified_manifest,
)
from backend_sync._mqtt import publish_once
from backend_sync.catalog import load_catalog
from backend_sync.contract import MAX_MANIFEST_BYTES, manifest_topic
from backend_sync.exceptions import CatalogError, SyncError

MANIFEST_VALID_FOR = timedelta(days=7)


class CatalogPublisher:
    """Builds and signs catalog and model versions into ``directory``."""

    def __init__(self, directory: Path, key: Ed25519PrivateKey) -> None:
        self.directory = directory
        self._key = key
        self._objects = directory / "objects"
        self._manifests = directory / "manifests"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._manifests.mkdir(parents=True, exist_ok=True)

    @property
    def latest_version(self) -> int:
        """The newest catalog version published from this directory (0 if none)."""
        return self.latest(UpdateKind.CATALOG)

    def latest(self, kind: UpdateKind) -> int:
        """The newest version of ``kind`` published from this directory (0 if none)."""
        versions = [int(path.name.rsplit("-", 1)[1]) for path in self._manifests.glob(f"{kind.value}-*")]
        return max(versions, default=0)

    def publish_model(self, model_file: Path, valid_for: timedelta = MANIFEST_VALID_FOR) -> bytes:
        """Sign the next model version (a file ``kiosk recommender build`` wrote)."""
        data = model_file.read_bytes()
        return self._sign(UpdateKind.MODEL, {MODEL: FileEntry(sha256=self._store(data), size=len(data))}, {},
                          valid_for)

    def publish(self, catalog_file: Path, valid_for: timedelta = MANIFEST_VALID_FOR,
                stores: Sequence[str] | None = None) -> bytes:
        """Build the next version from a catalog file; returns its signed manifest.

        With ``stores``, the version holds only what those stores need (their products,
        stock and prices): a regional bundle. Use one bundle directory per region.

        Raises:
            CatalogError: the catalog is invalid, names an unknown store, or an image is missing.
        """
        catalog = load_catalog(catalog_file)
        if stores:
            catalog = catalog.for_stores(stores)
        version = self.latest_version + 1
        files = catalog_files(catalog, version)
        for product in catalog.products:
            image = catalog_file.parent / product.image
            if not image.is_file():
                raise CatalogError(f"{product.sku}: image {product.image} not found next to the catalog")
            files[product.image] = image.read_bytes()
        entries = {path: FileEntry(sha256=self._store(data), size=len(data)) for path, data in files.items()}
        deltas = {}
        previous = self._previous_products()
        if previous is not None and previous != files[PRODUCTS]:
            delta = make_delta(previous, files[PRODUCTS])
            deltas[PRODUCTS] = DeltaEntry(sha256=self._store(delta), size=len(delta), from_sha256=sha256(previous))
        return self._sign(UpdateKind.CATALOG, entries, deltas, valid_for)

    def _sign(self, kind: UpdateKind, files: dict[str, FileEntry], deltas: dict[str, DeltaEntry],
              valid_for: timedelta) -> bytes:
        version = self.latest(kind) + 1
        now = datetime.now(UTC)
        manifest = Manifest(kind=kind, version=version, created_at=now, expires_at=now + valid_for, files=files,
                            deltas=deltas)
        envelope = sign_manifest(self._key, manifest)
        (self._manifests / f"{kind.value}-{version}").write_bytes(envelope)
        return envelope

    def _store(self, data: bytes) -> str:
        digest = sha256(data)
        target = self._objects / digest
        if not target.exists():
            partial = target.with_suffix(".tmp")
            partial.write_bytes(data)
            partial.replace(target)  # never serve a half-written object
        return digest

    def _previous_products(self) -> bytes | None:
        latest = self._manifests / f"catalog-{self.latest_version}"
        if not latest.exists():
            return None
        manifest = unverified_manifest(latest.read_bytes())
        entry = manifest.files.get(PRODUCTS)
        path = self._objects / entry.sha256 if entry else None
        return path.read_bytes() if path and path.exists() else None


def announce(broker_url: str, envelope: bytes, kind: UpdateKind = UpdateKind.CATALOG,
             client_id: str = "hq-publisher", timeout_s: float = 10.0) -> None:
    """Publish a signed manifest as the retained message every kiosk reads on connect.

    Raises:
        SyncError: the manifest is larger than a manifest may be (the broker and every
            kiosk would refuse it), or the broker could not be reached in time.
    """
    if len(envelope) > MAX_MANIFEST_BYTES:
        raise SyncError(f"the signed manifest has {len(envelope)} bytes, more than the {MAX_MANIFEST_BYTES} a "
                        "manifest may have; publish regional bundles (--stores) or share images between products")
    publish_once(broker_url, manifest_topic(kind.value), envelope, retain=True, client_id=client_id,
                 timeout_s=timeout_s)
