"""The kiosk's updaters: apply a signed manifest from HQ (a catalog or a recommender
model), or refuse it and keep the last good version.

    <root>/objects/<sha256>       verified files, kept across versions (so a new version
                                  downloads only what it does not share with the last)
    <root>/versions/<n>/          a complete, validated version (catalog.json + images/
                                  + offers.json if HQ sent offers, or model.bin)
    <root>/current -> versions/n  switched atomically (rename of a symlink)

Downloads use ``requests`` with connect/read timeouts, retries with backoff, resume by
HTTP Range, a size cap from the manifest and an overall deadline per file, so neither a
dead nor an endless server can hold the kiosk.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk_protocol import (
    META,
    MODEL,
    OFFERS_FILE,
    PRODUCTS,
    PUBLIC,
    RELEASE_FILE,
    WHEEL_NAME,
    WHEELS_DIR,
    Catalog,
    CatalogError,
    FileEntry,
    Manifest,
    Refusal,
    SoftwareRelease,
    UpdateKind,
    UpdateRefused,
    apply_delta,
    fsync_dir,
    load_catalog,
    parse_offers,
    parse_release,
    read_bundle,
    sha256,
    verify_manifest,
    write_atomically,
    write_catalog_document,
)

log = logging.getLogger(__name__)

_TIMEOUT_S = (5.0, 10.0)  # connect, read (between bytes)
_ATTEMPTS = 3
_CHUNK = 64 * 1024
_MIN_RATE = 50_000  # bytes/s below which a download is taken to be stuck
_KEEP_VERSIONS = 2


class _Updater(abc.ABC):
    """What every updater shares: verify, download into the object store, switch."""

    kind: UpdateKind

    def __init__(self, root: Path, hq_key: Ed25519PublicKey, files_url: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.root = root
        self.files_url = files_url.rstrip("/")
        self.last_refusal: UpdateRefused | None = None
        self.bytes_downloaded = 0
        self._key = hq_key
        self._clock = clock
        self._objects = root / "objects"
        self._versions = root / "versions"
        self._current = root / "current"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._versions.mkdir(parents=True, exist_ok=True)
        self._http = requests.Session()

    @property
    def current_version(self) -> int:
        """The version in use (0 before the first update)."""
        return int(os.readlink(self._current).rsplit("/", 1)[1]) if self._current.is_symlink() else 0

    def apply(self, envelope: bytes) -> Manifest:
        """Verify, download, check and switch to the version ``envelope`` announces.

        Raises:
            UpdateRefused: why not; the current version stays in use.
        """
        try:
            try:
                manifest = verify_manifest(self._key, envelope, self.kind, self.current_version, self._clock())
                staged = self._stage(manifest)
                self._switch(staged, manifest.version)
            except OSError as exc:  # a full disk must not end the update thread: refused, and retried
                raise UpdateRefused(Refusal.STORAGE_FAILED, f"cannot write the update: {exc}") from exc
        except UpdateRefused as refusal:
            self.last_refusal = refusal
            log.warning("%s update refused: %s", self.kind.value, refusal)
            raise
        self.last_refusal = None
        log.info("%s version %d applied", self.kind.value, manifest.version)
        return manifest

    @abc.abstractmethod
    def _stage(self, manifest: Manifest) -> Path:
        """Build the version in a staging folder and check it; raise UpdateRefused if bad."""

    def _fresh_staging(self, version: int) -> Path:
        staging = self._versions / f".staging-{version}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def _move_into_place(self, staged: Path, version: int) -> None:
        """Rename the staged version to ``versions/<version>``, durably."""
        final = self._versions / str(version)
        shutil.rmtree(final, ignore_errors=True)
        fsync_dir(staged)
        staged.rename(final)
        fsync_dir(self._versions)

    def _switch(self, staged: Path, version: int) -> None:
        self._move_into_place(staged, version)
        self._point_current(version)
        for old in sorted((p for p in self._versions.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))[
                :-_KEEP_VERSIONS]:
            shutil.rmtree(old, ignore_errors=True)

    def _point_current(self, version: int | None) -> None:
        """Make ``version`` the one in use (None: none, the kiosk's shipped files)."""
        if version is None:
            self._current.unlink(missing_ok=True)
        else:
            pointer = self.root / "current.new"
            pointer.unlink(missing_ok=True)
            pointer.symlink_to(f"versions/{version}")
            os.replace(pointer, self._current)  # atomic: readers see the old or the new, never a mix
        fsync_dir(self.root)

    def _versions_newest_first(self) -> list[int]:
        return sorted((int(p.name) for p in self._versions.iterdir() if p.name.isdigit()), reverse=True)

    def _set_aside(self, version: int) -> None:
        """Move a damaged version out of the way (kept to look at; the next one replaces it)."""
        aside = self._versions / f".damaged-{version}"
        shutil.rmtree(aside, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self._versions / str(version)).rename(aside)

    def _patch(self, manifest: Manifest, path: str) -> bool:
        """Rebuild ``path`` from the previous version and a delta; False to download it whole."""
        delta, target = manifest.deltas[path], manifest.files[path]
        if not self._have(delta.from_sha256):
            return False
        self._download(delta)
        try:
            rebuilt = apply_delta((self._objects / delta.from_sha256).read_bytes(), self._read(delta))
        except CatalogError as exc:
            log.warning("delta for %s unusable, downloading it whole: %s", path, exc)
            return False
        if sha256(rebuilt) != target.sha256:
            log.warning("delta for %s rebuilt the wrong file, downloading it whole", path)
            return False
        self._keep(rebuilt, target.sha256)
        return True

    def _download(self, entry: FileEntry) -> None:
        """Fetch one object, resuming and retrying, never more than its declared size."""
        partial = self._objects / f"{entry.sha256}.part"
        deadline = time.monotonic() + 30 + entry.size / _MIN_RATE
        for attempt in range(1, _ATTEMPTS + 1):
            have = partial.stat().st_size if partial.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                with self._http.get(f"{self.files_url}/objects/{entry.sha256}", headers=headers, stream=True,
                                    timeout=_TIMEOUT_S) as response:
                    if response.status_code not in (200, 206):
                        raise requests.HTTPError(f"HTTP {response.status_code}")
                    mode = "ab" if response.status_code == 206 else "wb"  # 200: the server ignored our Range
                    with partial.open(mode) as out:
                        for chunk in response.iter_content(_CHUNK):
                            out.write(chunk)
                            self.bytes_downloaded += len(chunk)
                            if out.tell() > entry.size:
                                partial.unlink()
                                raise UpdateRefused(Refusal.TOO_LARGE,
                                                    f"{entry.sha256[:12]} is larger than the {entry.size} bytes signed")
                            if time.monotonic() > deadline:
                                raise requests.Timeout("download too slow")
                break
            except requests.RequestException as exc:
                log.info("download of %s failed (attempt %d): %s", entry.sha256[:12], attempt, exc)
                if attempt == _ATTEMPTS or time.monotonic() > deadline:
                    raise UpdateRefused(Refusal.DOWNLOAD_FAILED, f"{entry.sha256[:12]}: {exc}") from exc
                time.sleep(0.2 * 2**attempt)
        data = partial.read_bytes()
        partial.unlink()
        if sha256(data) != entry.sha256:
            raise UpdateRefused(Refusal.FILE_MISMATCH, f"{entry.sha256[:12]} does not match its signed hash")
        self._keep(data, entry.sha256)

    def _have(self, digest: str) -> bool:
        return (self._objects / digest).exists()

    def _read(self, entry: FileEntry) -> bytes:
        return (self._objects / entry.sha256).read_bytes()

    def _keep(self, data: bytes, digest: str) -> None:
        write_atomically(self._objects / digest, data, PUBLIC)


@dataclass(frozen=True)
class CatalogChoice:
    """The catalog a kiosk starts with, its file, and why it is not the newest one on disk ("" if it is)."""

    catalog: Catalog
    path: Path
    fallback: str


def _fallback_note(damaged: list[str], used: str) -> str:
    note = f"damaged catalog ({'; '.join(damaged)}); {used}"
    log.error("%s", note)
    return note


class CatalogUpdater(_Updater):
    """Keeps ``root`` at the newest catalog HQ has signed."""

    kind = UpdateKind.CATALOG
    # The catalog the last staging validated: after a successful ``apply`` it is the current
    # one, so the kiosk need not validate the same 50,000 products a second time.
    staged_catalog: Catalog | None = None

    @property
    def current_catalog(self) -> Path | None:
        """The catalog file in use, if any."""
        return self._current / "catalog.json" if self._current.is_symlink() else None

    def load_usable(self, shipped: Path) -> CatalogChoice:
        """The newest catalog on disk that loads: the current one, else an older version, else ``shipped``.

        A version that does not load (truncated, empty, not JSON, missing) is set aside
        and ``current`` points at the one used, so HQ's announced version is applied
        again on the next manifest.

        Raises:
            CatalogError: not even the shipped catalog loads.
        """
        in_use = self.current_version if self._current.is_symlink() else None
        damaged: list[str] = [] if in_use is not None or not self._versions_newest_first() else [
            "no current catalog"]
        candidates = [in_use] if in_use is not None else []
        candidates += [v for v in self._versions_newest_first() if v != in_use]
        for version in candidates:
            path = self._versions / str(version) / "catalog.json"
            try:
                catalog = load_catalog(path)
            except CatalogError as exc:
                damaged.append(f"version {version}: {exc}")
                self._set_aside(version)
                continue
            if damaged:
                self._point_current(version)
                return CatalogChoice(catalog, self._current / "catalog.json",
                                     _fallback_note(damaged, f"using version {version}"))
            return CatalogChoice(catalog, self._current / "catalog.json", "")
        catalog = load_catalog(shipped)
        if not damaged:
            return CatalogChoice(catalog, shipped, "")
        self._point_current(None)
        return CatalogChoice(catalog, shipped, _fallback_note(
            damaged, f"using the catalog the kiosk shipped with (version {catalog.catalog_version})"))

    def _stage(self, manifest: Manifest) -> Path:
        for path, entry in manifest.files.items():
            if not self._have(entry.sha256) and not (path in manifest.deltas and self._patch(manifest, path)):
                self._download(entry)
        meta, products = self._read(manifest.files[META]), self._read(manifest.files[PRODUCTS])
        try:
            catalog = read_bundle(meta, products)
            if OFFERS_FILE in manifest.files:  # checked here: offers the kiosk would refuse never become current
                parse_offers(self._read(manifest.files[OFFERS_FILE]))
        except CatalogError as exc:
            raise UpdateRefused(Refusal.INVALID_CONTENT, str(exc)) from exc
        staging = self._fresh_staging(manifest.version)
        write_catalog_document(staging / "catalog.json", meta, products)
        (staging / "images").mkdir()
        for path, entry in manifest.files.items():
            if path not in (META, PRODUCTS):  # images/..., and offers.json beside catalog.json
                os.link(self._objects / entry.sha256, staging / path)  # hard link: no copy, same checked bytes
        fsync_dir(staging / "images")
        self.staged_catalog = catalog
        return staging


class ModelUpdater(_Updater):
    """Keeps ``root`` at the newest recommender model HQ has signed.

    ``check`` opens a staged model file and returns what is wrong with it (None if it is
    good): the recommender's own loader, so a file it would refuse never becomes current.
    """

    kind = UpdateKind.MODEL

    def __init__(self, root: Path, hq_key: Ed25519PublicKey, files_url: str, check: Callable[[Path], str | None],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(root, hq_key, files_url, clock)
        self._check = check

    @property
    def current_model(self) -> Path | None:
        """The model file in use, if any."""
        return self._current / MODEL if self._current.is_symlink() else None

    def _stage(self, manifest: Manifest) -> Path:
        entry = manifest.files.get(MODEL)
        if entry is None:
            raise UpdateRefused(Refusal.INVALID_CONTENT, f"a model manifest without {MODEL}")
        if not self._have(entry.sha256):
            self._download(entry)
        staging = self._fresh_staging(manifest.version)
        os.link(self._objects / entry.sha256, staging / MODEL)
        problem = self._check(staging / MODEL)
        if problem is not None:
            shutil.rmtree(staging, ignore_errors=True)
            raise UpdateRefused(Refusal.INVALID_CONTENT, problem)
        return staging


_INSTALL_TIMEOUT_S = 900.0
_KIOSK_WHEEL = "nfc_kiosk-"


class SoftwareUpdater(_Updater):
    """Installs the kiosk software releases HQ signs beside the one running, ready to switch to.

    A release is installed into ``versions/<n>/site`` with pip, from its own wheels only
    (no index, no dependencies fetched), and must import before it is ready; ``apply``
    leaves ``current`` alone: the kiosk switches when no shopper is using it and the
    supervisor (``kiosk_app._supervisor``) judges the switch. ``running`` is the release
    whose code is running; ``failed`` the one that failed its health check here, never
    taken again.
    """

    kind = UpdateKind.SOFTWARE

    def __init__(self, root: Path, hq_key: Ed25519PublicKey, files_url: str, running: int,
                 failed: Callable[[], int], clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        super().__init__(root, hq_key, files_url, clock)
        self._running = running
        self._failed = failed
        self.staged_release: SoftwareRelease | None = None

    @property
    def current_version(self) -> int:
        """The release running (a newer one is staged beside it, not over it)."""
        return self._running

    def _stage(self, manifest: Manifest) -> Path:
        if manifest.version == self._failed():
            raise UpdateRefused(Refusal.FAILED_HERE, f"release {manifest.version} failed its health check here")
        installed = self._versions / str(manifest.version)
        if (installed / RELEASE_FILE).is_file():  # installed before; its manifest came again on a reconnect
            self.staged_release = parse_release((installed / RELEASE_FILE).read_bytes())
            return installed
        wheels = {path: entry for path, entry in manifest.files.items() if path != RELEASE_FILE}
        if RELEASE_FILE not in manifest.files:
            raise UpdateRefused(Refusal.INVALID_CONTENT, f"a software manifest without {RELEASE_FILE}")
        names = [path.removeprefix(f"{WHEELS_DIR}/") for path in wheels]
        if any(not path.startswith(f"{WHEELS_DIR}/") or not WHEEL_NAME.match(name) for path, name in
               zip(wheels, names, strict=True)):
            raise UpdateRefused(Refusal.INVALID_CONTENT, "a software release holds only wheels/<wheel file>")
        if not any(name.startswith(_KIOSK_WHEEL) for name in names):
            raise UpdateRefused(Refusal.INVALID_CONTENT, "the release has no kiosk wheel (nfc_kiosk-*.whl)")
        for entry in manifest.files.values():
            if not self._have(entry.sha256):
                self._download(entry)
        try:
            release = parse_release(self._read(manifest.files[RELEASE_FILE]))
        except CatalogError as exc:
            raise UpdateRefused(Refusal.INVALID_CONTENT, str(exc)) from exc
        staging = self._fresh_staging(manifest.version)
        (staging / WHEELS_DIR).mkdir()
        for path, entry in wheels.items():
            os.link(self._objects / entry.sha256, staging / path)
        os.link(self._objects / manifest.files[RELEASE_FILE].sha256, staging / RELEASE_FILE)
        problem = _install(sorted((staging / WHEELS_DIR).iterdir()), staging / "site")
        if problem is not None:
            shutil.rmtree(staging, ignore_errors=True)
            raise UpdateRefused(Refusal.INVALID_CONTENT, problem)
        self.staged_release = release
        return staging

    def _switch(self, staged: Path, version: int) -> None:
        if staged == self._versions / str(version):
            return  # installed before: already in place
        self._move_into_place(staged, version)
        keep = {str(version), str(self._running)}  # the new one, and the one to switch back to
        for old in self._versions.iterdir():
            if old.name not in keep and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)


def _install(wheels: list[Path], site: Path) -> str | None:
    """Install ``wheels`` into ``site`` and import the kiosk from it; what went wrong, or None."""
    steps = (
        ("installing its wheels",
         [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-warn-script-location",
          "--disable-pip-version-check", "--quiet", "--target", str(site), *map(str, wheels)]),
        # -P: the kiosk must import from the release alone, never from the working directory
        ("importing the kiosk from it", [sys.executable, "-P", "-c", "import kiosk_app.cli"]),
    )
    env = {**os.environ, "PYTHONPATH": str(site), "PIP_NO_CACHE_DIR": "1"}
    for what, command in steps:
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return f"{what} took longer than {_INSTALL_TIMEOUT_S:.0f} s"
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"{what} failed: {' | '.join(said)[:500]}"
    return None
