"""Every test here runs real parts (Mosquitto, Kivy under Xvfb, PostgreSQL, Chromium, tags
emulated over nfcpy's udp driver, child processes), so every one is marked ``slow``:
``pytest -m "not slow"`` leaves them out."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A conftest's hook sees the whole session's items, not only its folder's.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)
