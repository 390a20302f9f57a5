"""HQ publishes catalog and recommender model versions: content-addressed files in a
directory its file server serves, and a signed manifest announced as a retained MQTT
message.

    <directory>/objects/<sha256>          every file of every version, by hash
    <directory>/manifests/catalog-<n>     the signed manifest of catalog version n
    <directory>/manifests/model-<n>       the signed manifest of model version n

A catalog version published with offers also holds ``offers.json``: those of HQ's offers
that run in the version's stores and have not ended, or ended within a year (a sign left up
says when its offer ended), signed like every other file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from backend_sync import publish_once
from hq.exceptions import PublishRefused
from kiosk_protocol import (
    MAX_MANIFEST_BYTES,
    MODEL,
    OFFERS_FILE,
    PRODUCTS,
    Catalog,
    CatalogError,
    DeltaEntry,
    FileEntry,
    Manifest,
    Offer,
    UpdateKind,
    catalog_files,
    image_file,
    load_catalog,
    make_delta,
    manifest_topic,
    offers_json,
    problems,
    sha256,
    sign_manifest,
    unverified_manifest,
)

log = logging.getLogger(__name__)

MANIFEST_VALID_FOR = timedelta(days=7)
MAX_IMAGE_BYTES = 16 * 1024 * 1024  # a product photo is a few hundred KB: this is a mistake, not a photo
_MAX_REPORTED = 20


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
        return self._release(UpdateKind.MODEL, {MODEL: model_file.read_bytes()}, {}, valid_for)

    def publish(self, catalog_file: Path, valid_for: timedelta = MANIFEST_VALID_FOR,
                stores: Sequence[str] | None = None, offers: Iterable[Offer] | None = None) -> bytes:
        """Build the next version from a catalog file; returns its signed manifest.

        With ``stores``, the version holds only what those stores need (their products,
        stock and prices): a regional bundle. Use one bundle directory per region.

        With ``offers``, the version's ``offers.json`` holds those that run in its stores
        and have not ended, or ended within a year (``bundle_offers``); without, it has no offers file, and kiosks
        that apply it run with no offers.

        Images are read only from the catalog's own folder; the whole version is checked
        before anything is written, so a refused catalog leaves the bundle directory as it was.

        Raises:
            PublishRefused: the catalog is invalid, names an unknown store, or an image is
                missing, too large, or outside the catalog's folder.
        """
        try:
            catalog = load_catalog(catalog_file)
            if stores:
                catalog = catalog.for_stores(stores)
            files = {**catalog_files(catalog, self.latest_version + 1), **_images(catalog_file, catalog)}
            if offers is not None:
                files[OFFERS_FILE] = offers_json(bundle_offers(offers, [s.id for s in catalog.stores],
                                                               datetime.now(UTC)))
        except CatalogError as exc:
            log.warning("catalog %s refused, nothing published (the error tells why)", catalog_file)
            raise PublishRefused(str(exc)) from exc
        deltas = {}
        previous = self._previous_products()
        if previous is not None and previous != files[PRODUCTS]:
            deltas[PRODUCTS] = (make_delta(previous, files[PRODUCTS]), sha256(previous))
        return self._release(UpdateKind.CATALOG, files, deltas, valid_for)

    def _release(self, kind: UpdateKind, files: dict[str, bytes], deltas: dict[str, tuple[bytes, str]],
                 valid_for: timedelta) -> bytes:
        """Sign the next version of ``kind`` from its files and deltas (each with the hash
        of the file it patches), then write it: objects first, the manifest last."""
        version = self.latest(kind) + 1
        now = datetime.now(UTC)
        objects = {sha256(data): data for data in [*files.values(), *(delta for delta, _ in deltas.values())]}
        try:
            manifest = Manifest(
                kind=kind, version=version, created_at=now, expires_at=now + valid_for,
                files={path: FileEntry(sha256=sha256(data), size=len(data)) for path, data in files.items()},
                deltas={path: DeltaEntry(sha256=sha256(delta), size=len(delta), from_sha256=base)
                        for path, (delta, base) in deltas.items()})
        except ValidationError as exc:
            raise PublishRefused(f"{kind.value} version {version} cannot be signed: {problems(exc)}") from exc
        envelope = sign_manifest(self._key, manifest)
        for digest, data in objects.items():
            _write_once(self._objects / digest, data)
        _write_once(self._manifests / f"{kind.value}-{version}", envelope)
        return envelope

    def _previous_products(self) -> bytes | None:
        latest = self._manifests / f"catalog-{self.latest_version}"
        if not latest.exists():
            return None
        manifest = unverified_manifest(latest.read_bytes())
        entry = manifest.files.get(PRODUCTS)
        path = self._objects / entry.sha256 if entry else None
        return path.read_bytes() if path and path.exists() else None


# How long an ended offer still travels in bundles: a sign left up says "ended on ...", not "unknown".
ENDED_KEPT = timedelta(days=365)


def bundle_offers(offers: Iterable[Offer], stores: Sequence[str], now: datetime) -> list[Offer]:
    """The offers a bundle for ``stores`` carries: those of any of them running, scheduled, or
    ended within ``ENDED_KEPT``, so a sign still on a shelf says when its offer ended."""
    return [offer for offer in offers
            if offer.ends > now - ENDED_KEPT and any(offer.runs_in(store) for store in stores)]


def _images(catalog_file: Path, catalog: Catalog) -> dict[str, bytes]:
    """Every product image, by its path in the bundle, read from inside the catalog's folder.

    Raises:
        CatalogError: every image that is missing, too large, unreadable, or that leads
            out of the catalog's folder (through ``..`` in an older file, or a symlink).
    """
    images: dict[str, bytes] = {}
    refused: list[str] = []
    for product in catalog.products:
        if product.image in images:
            continue
        path = image_file(catalog_file, product.image)
        try:
            if path is None:
                refused.append(f"{product.sku}: image {product.image} leads out of the catalog's folder")
            elif not path.is_file():
                refused.append(f"{product.sku}: image {product.image} not found next to the catalog")
            elif path.stat().st_size > MAX_IMAGE_BYTES:
                refused.append(f"{product.sku}: image {product.image} is larger than {MAX_IMAGE_BYTES:,} bytes")
            else:
                images[product.image] = path.read_bytes()
        except OSError as exc:
            refused.append(f"{product.sku}: cannot read image {product.image}: {exc.strerror}")
    if refused:
        shown = "; ".join(refused[:_MAX_REPORTED]) + (f"; and {len(refused) - _MAX_REPORTED} more"
                                                      if len(refused) > _MAX_REPORTED else "")
        raise CatalogError(f"{len(refused)} image problem(s), nothing published: {shown}")
    return images


def _write_once(target: Path, data: bytes) -> None:
    if not target.exists():
        partial = target.with_name(f".{target.name}.tmp")  # not a name ``latest`` or a kiosk looks for
        partial.write_bytes(data)
        partial.replace(target)  # never serve a half-written file


def announce(broker_url: str, envelope: bytes, kind: UpdateKind = UpdateKind.CATALOG,
             client_id: str = "hq-publisher", timeout_s: float = 10.0) -> None:
    """Publish a signed manifest as the retained message every kiosk reads on connect.

    Raises:
        PublishRefused: the manifest is larger than a manifest may be (the broker and
            every kiosk would refuse it).
        SyncError: the broker could not be reached in time.
    """
    if len(envelope) > MAX_MANIFEST_BYTES:
        raise PublishRefused(f"the signed manifest has {len(envelope)} bytes, more than the {MAX_MANIFEST_BYTES} a "
                             "manifest may have; publish regional bundles (--stores) or share images between products")
    publish_once(broker_url, manifest_topic(kind.value), envelope, retain=True, client_id=client_id,
                 timeout_s=timeout_s)
