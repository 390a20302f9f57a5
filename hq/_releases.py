"""Kiosk software releases: a folder of wheels signed as the next ``software`` version in
HQ's publish directory, beside the catalogs and models (``_publish``), and read back.

    <directory>/manifests/software-<n>    the signed manifest of release n
    <directory>/objects/<sha256>          its release.json and wheels, by hash

A release is never announced to the whole fleet: a rollout (``_rollouts``) sends its signed
manifest to each kiosk on its own topic, a stage at a time.

Everything a kiosk would refuse is refused here first, before anything is written: a folder
with no wheels, a file name that is not a wheel's, a release without the kiosk's own wheel
(``nfc_kiosk-*.whl``), a label or health window ``release.json`` does not take.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError

from hq._publish import CatalogPublisher
from hq.exceptions import PublishRefused
from kiosk_protocol import (
    HEALTH_WINDOW_S,
    RELEASE_FILE,
    WHEEL_NAME,
    WHEELS_DIR,
    CatalogError,
    SoftwareRelease,
    UpdateKind,
    parse_release,
    problems,
    unverified_manifest,
)

# A rollout takes days or weeks, and a kiosk refuses an expired manifest: longer than a catalog's week.
RELEASE_VALID_FOR = timedelta(days=60)
KIOSK_WHEEL = "nfc_kiosk-"  # the kiosk's own distribution (setup.cfg's nfc-kiosk, as wheels spell it)


@dataclass(frozen=True)
class PublishedRelease:
    """One release as the publish directory holds it."""

    version: int
    label: str
    health_window_s: int
    published_at: datetime
    expires_at: datetime
    wheels: tuple[str, ...]  # file names, lower-cased, as the kiosk installs them


class SoftwarePublisher(CatalogPublisher):
    """Signs kiosk software releases into ``directory`` (HQ's publish directory)."""

    def publish_software(self, wheels_dir: Path, label: str, health_window_s: int = HEALTH_WINDOW_S,
                         valid_for: timedelta = RELEASE_VALID_FOR) -> bytes:
        """Sign every wheel of ``wheels_dir`` with a ``release.json`` as the next release; returns
        its signed manifest (its number: ``latest(UpdateKind.SOFTWARE)``).

        Raises:
            PublishRefused: what a kiosk would refuse, or a folder that cannot be read; nothing written.
        """
        try:
            described = SoftwareRelease(label=label, health_window_s=health_window_s)
        except ValidationError as exc:
            raise PublishRefused(f"not a release: {problems(exc)} (a label is what people read, like 1.4.2; "
                                 "the health window is 30 to 3600 seconds)") from exc
        files = {RELEASE_FILE: described.model_dump_json().encode(), **_wheels(wheels_dir)}
        return self._release(UpdateKind.SOFTWARE, files, {}, valid_for)


def _wheels(wheels_dir: Path) -> dict[str, bytes]:
    """The wheels of ``wheels_dir`` by their path in the release.

    Raises:
        PublishRefused: no wheels, a name that is not a wheel's, a file that is no wheel archive,
            or no ``nfc_kiosk-*.whl`` among them.
    """
    if not wheels_dir.is_dir():
        raise PublishRefused(f"{wheels_dir} is not a folder of wheels")
    wheels: dict[str, bytes] = {}
    try:
        for path in sorted(wheels_dir.iterdir()):
            if not path.name.lower().endswith(".whl"):
                continue
            name = path.name.lower()  # wheel names are case-insensitive; manifest paths are lower case
            if not WHEEL_NAME.fullmatch(name):
                raise PublishRefused(f"{path.name} is not named as a wheel is (name-version-python-abi-platform.whl)")
            if not path.is_file() or not zipfile.is_zipfile(path):
                raise PublishRefused(f"{path.name} is not a wheel: not a zip archive")
            if f"{WHEELS_DIR}/{name}" in wheels:
                raise PublishRefused(f"{path.name} is in {wheels_dir} twice, in different cases")
            wheels[f"{WHEELS_DIR}/{name}"] = path.read_bytes()
    except OSError as exc:
        raise PublishRefused(f"cannot read the wheels in {wheels_dir}: {exc.strerror or exc}") from exc
    if not wheels:
        raise PublishRefused(f"{wheels_dir} holds no wheels (*.whl): build them with `pip wheel`")
    if not any(path.startswith(f"{WHEELS_DIR}/{KIOSK_WHEEL}") for path in wheels):
        raise PublishRefused(f"{wheels_dir} holds no wheel of the kiosk itself ({KIOSK_WHEEL}*.whl), "
                             f"only {', '.join(sorted(p.removeprefix(WHEELS_DIR + '/') for p in wheels))}")
    return wheels


def release_envelope(directory: Path, version: int) -> bytes:
    """The signed manifest of release ``version``, as published.

    Raises:
        PublishRefused: no such release in ``directory``.
    """
    path = directory / "manifests" / f"{UpdateKind.SOFTWARE.value}-{version}"
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise PublishRefused(f"no release {version} is published in {directory} "
                             "(`kiosk hq release list` shows those that are)") from exc


def published_release(directory: Path, version: int) -> PublishedRelease:
    """What release ``version`` is (from its manifest and its ``release.json``).

    Raises:
        PublishRefused: no such release, or its files are not a release's.
    """
    manifest = unverified_manifest(release_envelope(directory, version))
    entry = manifest.files.get(RELEASE_FILE)
    try:
        if entry is None:
            raise CatalogError(f"its manifest lists no {RELEASE_FILE}")
        described = parse_release((directory / "objects" / entry.sha256).read_bytes())
    except (CatalogError, OSError) as exc:
        raise PublishRefused(f"release {version} in {directory} is damaged: {exc}") from exc
    wheels = tuple(sorted(path.removeprefix(f"{WHEELS_DIR}/") for path in manifest.files if path != RELEASE_FILE))
    return PublishedRelease(version, described.label, described.health_window_s, manifest.created_at,
                            manifest.expires_at, wheels)


def published_releases(directory: Path) -> list[PublishedRelease]:
    """Every release published in ``directory``, oldest first."""
    found = sorted(int(path.name.rsplit("-", 1)[1]) for path in (directory / "manifests").glob("software-*")
                   if path.name.rsplit("-", 1)[1].isdigit())
    return [published_release(directory, version) for version in found]
