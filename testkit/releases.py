"""Kiosk software releases as HQ builds them: a wheel of this project's own source, its
version set, with an optional change made to the copy (a release that breaks, say)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
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
