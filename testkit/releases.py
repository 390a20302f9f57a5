"""Wheels for the software release tests: this project's own, built by pip from a copy of its
source as HQ builds a release (its version set, with an optional change made to the copy: a
release that breaks, say), and small hand-made ones (valid zip archives) for a release's other
wheels."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
_TREE = ("setup.cfg", "pyproject.toml", "README.md", "kiosk_app", "nfc_reader", "recommender", "backend_sync",
         "kiosk_protocol", "hq", "assets")


def build_kiosk_wheel(work: Path, version: str, change: Callable[[Path], None] | None = None) -> Path:
    """Build ``nfc_kiosk-<version>-py3-none-any.whl`` into ``work/wheels``; ``change`` edits the
    copied source first. Returns the wheels folder."""
    source = work / "source"
    source.mkdir(parents=True)
    for name in _TREE:
        origin = SOURCE / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(origin, source / name)
    setup = source / "setup.cfg"
    setup.write_text(re.sub(r"(?m)^version = .*$", f"version = {version}", setup.read_text(), count=1))
    if change is not None:
        change(source)
    wheels = work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "-w", str(wheels), str(source)], check=True, timeout=300)
    return wheels


def small_wheel(folder: Path, name: str) -> Path:
    """A hand-made wheel file named ``name`` in ``folder``: a zip archive holding one module and its metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    distribution, version = name.split("-")[:2]
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{distribution.lower()}.py", f"VERSION = {version!r}\n")
        wheel.writestr(f"{distribution}-{version}.dist-info/METADATA",
                       f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    return path
