"""``kiosk hq catalog publish`` as HQ runs it: a catalog whose images lead out of its
folder (a ``..`` path, a symlinked file or folder) publishes nothing and says why."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk_app.demo import demo_catalog_path

KIOSK = [sys.executable, "-m", "kiosk_app"]
pytestmark = pytest.mark.slow  # every test runs ``kiosk hq ...`` in a child process, a couple of seconds each


def kiosk(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def hq_dir(tmp_path: Path) -> Path:
    """HQ's real key pair as ``kiosk hq keygen`` writes it: the private key 0600."""
    directory = tmp_path / "hq"
    assert kiosk("hq", "keygen", "--dir", directory).returncode == 0
    assert stat.S_IMODE((directory / "hq_key.pem").stat().st_mode) == 0o600
    return directory


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    target = tmp_path / "shop" / "catalog"
    shutil.copytree(demo_catalog_path().parent, target)
    return target


def set_image(catalog_dir: Path, image: str) -> None:
    path = catalog_dir / "demo.json"
    data = json.loads(path.read_text())
    data["products"][0]["image"] = image
    path.write_text(json.dumps(data, ensure_ascii=False))


def assert_nothing_published(bundles: Path, secret: bytes) -> None:
    written = [path for path in bundles.rglob("*") if path.is_file()] if bundles.exists() else []
    assert written == []
    assert all(secret not in path.read_bytes() for path in written)


def publish(catalog_dir: Path, hq_dir: Path, bundles: Path) -> subprocess.CompletedProcess[str]:
    return kiosk("hq", "catalog", "publish", catalog_dir / "demo.json", "--dir", bundles, "--key",
                 hq_dir / "hq_key.pem")


def test_an_image_path_that_climbs_out_publishes_nothing(catalog_dir: Path, hq_dir: Path, tmp_path: Path) -> None:
    secret = (hq_dir / "hq_key.pem").read_bytes()
    set_image(catalog_dir, "../../hq/hq_key.pem")  # from shop/catalog/ to HQ's key
    assert (catalog_dir / "../../hq/hq_key.pem").resolve() == (hq_dir / "hq_key.pem").resolve()
    result = publish(catalog_dir, hq_dir, tmp_path / "bundles")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "products.0.image" in result.stderr and "not valid" in result.stderr
    assert_nothing_published(tmp_path / "bundles", secret)


@pytest.mark.parametrize("link", ["image file", "images folder"])
def test_a_symlink_out_of_the_catalog_folder_publishes_nothing(catalog_dir: Path, hq_dir: Path, tmp_path: Path,
                                                               link: str) -> None:
    secret = (hq_dir / "hq_key.pem").read_bytes()
    if link == "image file":
        image = catalog_dir / "images" / "boot-chelsea-blk.png"
        image.unlink()
        image.symlink_to(hq_dir / "hq_key.pem")
        name = "images/boot-chelsea-blk.png"
    else:  # the whole images folder points at HQ's key directory; the name passes any name check
        shutil.rmtree(catalog_dir / "images")
        (catalog_dir / "images").symlink_to(hq_dir, target_is_directory=True)
        name = "images/hq_key.pem"
    set_image(catalog_dir, name)
    assert (catalog_dir / name).read_bytes() == secret  # the link works: reading through it gives the key
    result = publish(catalog_dir, hq_dir, tmp_path / "bundles")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "leads out of the catalog's folder" in result.stderr and "nothing published" in result.stderr
    assert_nothing_published(tmp_path / "bundles", secret)


def test_a_refused_catalog_leaves_an_earlier_version_as_it_was(catalog_dir: Path, hq_dir: Path,
                                                                tmp_path: Path) -> None:
    bundles = tmp_path / "bundles"
    assert publish(catalog_dir, hq_dir, bundles).returncode == 0
    before = {path: path.read_bytes() for path in bundles.rglob("*") if path.is_file()}
    missing = json.loads((catalog_dir / "demo.json").read_text())
    missing["products"][3]["image"] = "images/not-there.png"
    missing["products"][1]["price"] = 1.0  # a change that would need a new products file and delta
    (catalog_dir / "demo.json").write_text(json.dumps(missing))
    result = publish(catalog_dir, hq_dir, bundles)
    assert result.returncode == 1 and "images/not-there.png not found" in result.stderr
    assert {path: path.read_bytes() for path in bundles.rglob("*") if path.is_file()} == before


def test_a_master_catalog_with_an_infinite_price_is_not_published(catalog_dir: Path, hq_dir: Path,
                                                                   tmp_path: Path) -> None:
    # What the import once wrote for a price of "1e309": Python's JSON for an infinite float.
    path = catalog_dir / "demo.json"
    path.write_text(path.read_text().replace('"price": 89.95', '"price": Infinity', 1))
    result = publish(catalog_dir, hq_dir, tmp_path / "bundles")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "products.0.price: Input should be a finite number" in result.stderr
    assert_nothing_published(tmp_path / "bundles", b"Infinity")
