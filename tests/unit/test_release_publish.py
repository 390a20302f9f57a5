"""A kiosk software release signed into HQ's publish directory, and every folder of wheels a
kiosk would refuse, refused before anything is written."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import PublishRefused, SoftwarePublisher, published_releases
from hq._releases import release_envelope
from kiosk_protocol import UpdateKind, verify_manifest
from testkit.releases import small_wheel

KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def publisher(tmp_path: Path) -> SoftwarePublisher:
    return SoftwarePublisher(tmp_path / "bundles", KEY)


def test_the_wheels_and_release_json_are_signed_as_the_next_release(publisher: SoftwarePublisher,
                                                                    tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    small_wheel(wheels, "nfc_kiosk-1.4.2-py3-none-any.whl")
    small_wheel(wheels, "PyYAML-6.0.1-cp311-cp311-manylinux_2_17_x86_64.whl")
    (wheels / "README.txt").write_text("not a wheel, not shipped")

    envelope = publisher.publish_software(wheels, "1.4.2", health_window_s=240)

    manifest = verify_manifest(KEY.public_key(), envelope, UpdateKind.SOFTWARE, 0, datetime.now(UTC))
    assert manifest.version == 1 and publisher.latest(UpdateKind.SOFTWARE) == 1
    assert sorted(manifest.files) == ["release.json", "wheels/nfc_kiosk-1.4.2-py3-none-any.whl",
                                      "wheels/pyyaml-6.0.1-cp311-cp311-manylinux_2_17_x86_64.whl"]
    stored = (publisher.directory / "objects" / manifest.files["release.json"].sha256).read_bytes()
    assert json.loads(stored) == {"v": 1, "label": "1.4.2", "health_window_s": 240}
    assert release_envelope(publisher.directory, 1) == envelope
    assert publisher.latest(UpdateKind.CATALOG) == 0  # software is numbered on its own
    publisher.publish_software(wheels, "1.4.3")
    assert [(r.version, r.label, r.health_window_s) for r in published_releases(publisher.directory)] == [
        (1, "1.4.2", 240), (2, "1.4.3", 180)]


@pytest.mark.parametrize(("wheels", "label", "window", "refusal"), [
    ([], "1.4.2", 180, "holds no wheels"),
    (["requests-2.32.0-py3-none-any.whl"], "1.4.2", 180, r"no wheel of the kiosk itself \(nfc_kiosk-\*\.whl\), "
                                                         "only requests-2.32.0-py3-none-any.whl"),
    (["nfc_kiosk-1.4.2.whl"], "1.4.2", 180, "not named as a wheel is"),
    (["nfc_kiosk-1.4.2-py3-none-any.whl", "bad name-1.0-py3-none-any.whl"], "1.4.2", 180, "not named as a wheel"),
    (["nfc_kiosk-1.4.2-py3-none-any.whl"], "", 180, "not a release"),
    (["nfc_kiosk-1.4.2-py3-none-any.whl"], "1.4.2; rm -rf /", 180, "not a release"),
    (["nfc_kiosk-1.4.2-py3-none-any.whl"], "1.4.2", 10, "the health window is 30 to 3600 seconds"),
    (["nfc_kiosk-1.4.2-py3-none-any.whl"], "1.4.2", 7200, "not a release"),
])
def test_what_a_kiosk_would_refuse_is_refused_and_nothing_is_written(
        publisher: SoftwarePublisher, tmp_path: Path, wheels: list[str], label: str, window: int,
        refusal: str) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name in wheels:
        small_wheel(folder, name)

    with pytest.raises(PublishRefused, match=refusal):
        publisher.publish_software(folder, label, window)

    assert list((publisher.directory / "objects").iterdir()) == []
    assert publisher.latest(UpdateKind.SOFTWARE) == 0


def test_a_file_named_as_a_wheel_that_is_no_archive_is_refused(publisher: SoftwarePublisher, tmp_path: Path) -> None:
    folder = tmp_path / "wheels"
    small_wheel(folder, "nfc_kiosk-1.4.2-py3-none-any.whl")
    (folder / "numpy-2.0.0-py3-none-any.whl").write_bytes(b"<html>404 Not Found</html>")

    refusal = re.escape("numpy-2.0.0-py3-none-any.whl is not a wheel: not a zip archive")
    with pytest.raises(PublishRefused, match=refusal):
        publisher.publish_software(folder, "1.4.2")


def test_a_folder_that_is_not_there_and_a_release_never_published_are_refused(
        publisher: SoftwarePublisher, tmp_path: Path) -> None:
    with pytest.raises(PublishRefused, match="is not a folder of wheels"):
        publisher.publish_software(tmp_path / "missing", "1.4.2")
    with pytest.raises(PublishRefused, match="no release 3 is published"):
        release_envelope(publisher.directory, 3)
