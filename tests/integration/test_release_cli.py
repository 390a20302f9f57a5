"""``kiosk hq release publish`` and ``list`` as HQ's operator runs them, on a wheel of this
very project built by pip: the signed release checks with HQ's public key, as a kiosk checks it."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from kiosk_app.cli import main
from kiosk_protocol import UpdateKind, public_key_from_pem, verify_manifest
from testkit.releases import build_kiosk_wheel, small_wheel


def test_a_release_of_the_kiosks_own_wheel_is_signed_numbered_and_listed(tmp_path: Path) -> None:
    runner = CliRunner()
    keys = tmp_path / "hq"
    assert runner.invoke(main, ["hq", "keygen", "--dir", str(keys)]).exit_code == 0
    wheels = build_kiosk_wheel(tmp_path, "1.4.2")
    [kiosk] = wheels.glob("nfc_kiosk-*.whl")
    small_wheel(wheels, "PyYAML-6.0.1-py3-none-any.whl")  # a dependency the release changes, named as PyPI does
    bundles = tmp_path / "bundles"

    published = runner.invoke(main, ["hq", "release", "publish", "--dir", str(bundles), "--key",
                                     str(keys / "hq_key.pem"), "--wheels", str(wheels), "--label", "1.4.2",
                                     "--health-window", "240"])
    again = runner.invoke(main, ["hq", "release", "publish", "--dir", str(bundles), "--key",
                                 str(keys / "hq_key.pem"), "--wheels", str(wheels), "--label", "1.4.3"])

    assert (published.exit_code, published.output, again.output) == (0, "1\n", "2\n")
    public = public_key_from_pem((keys / "hq_public_key.pem").read_bytes())
    envelope = (bundles / "manifests" / "software-1").read_bytes()
    manifest = verify_manifest(public, envelope, UpdateKind.SOFTWARE, 0, datetime.now(UTC))
    assert kiosk.name.startswith("nfc_kiosk-") and kiosk.name.endswith("-py3-none-any.whl")
    assert sorted(manifest.files) == ["release.json", f"wheels/{kiosk.name}", "wheels/pyyaml-6.0.1-py3-none-any.whl"]
    shipped = bundles / "objects" / manifest.files[f"wheels/{kiosk.name}"].sha256
    assert shipped.read_bytes() == kiosk.read_bytes()
    assert "hq/_releases.py" in zipfile.ZipFile(shipped).namelist()
    release = json.loads((bundles / "objects" / manifest.files["release.json"].sha256).read_bytes())
    assert release == {"v": 1, "label": "1.4.2", "health_window_s": 240}

    listed = runner.invoke(main, ["hq", "release", "list", "--dir", str(bundles)])
    assert listed.exit_code == 0
    lines = [line.split("\t") for line in listed.output.splitlines()]
    assert [(line[0], line[1], line[2]) for line in lines] == [("1", "1.4.2", "health window 240 s"),
                                                              ("2", "1.4.3", "health window 180 s")]
    assert lines[0][5] == f"{kiosk.name} pyyaml-6.0.1-py3-none-any.whl"


def test_a_folder_without_the_kiosks_wheel_publishes_nothing_and_says_why(tmp_path: Path) -> None:
    runner = CliRunner()
    keys = tmp_path / "hq"
    assert runner.invoke(main, ["hq", "keygen", "--dir", str(keys)]).exit_code == 0
    wheels = tmp_path / "wheels"
    small_wheel(wheels, "requests-2.32.0-py3-none-any.whl")
    bundles = tmp_path / "bundles"

    refused = runner.invoke(main, ["hq", "release", "publish", "--dir", str(bundles), "--key",
                                   str(keys / "hq_key.pem"), "--wheels", str(wheels), "--label", "1.4.2"])

    assert refused.exit_code == 1
    assert "no wheel of the kiosk itself (nfc_kiosk-*.whl)" in refused.output
    assert not list((bundles / "manifests").iterdir())
    listed = runner.invoke(main, ["hq", "release", "list", "--dir", str(bundles)])
    assert listed.output == f"no release is published in {bundles}\n"
