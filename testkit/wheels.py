"""Wheels for the software release tests: this project's own, built by pip as a release is
built, and small hand-made ones (valid zip archives) for a release's other wheels."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
# What a wheel of the kiosk is built from; the rest of the checkout (tests, docs, caches) is not shipped.
_NOT_SHIPPED = shutil.ignore_patterns(".git", ".venv", "*cache*", "build", "dist", "*.egg-info", "tests", "docs",
                                      "benchmarks", "__pycache__")


def kiosk_wheel(work: Path, out: Path) -> Path:
    """This project built as ``pip wheel`` builds a release (from a copy of its source in ``work``): the
    ``nfc_kiosk-<version>-py3-none-any.whl`` written into ``out``."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SHIPPED)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    [wheel] = out.glob("nfc_kiosk-*.whl")
    return wheel


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
