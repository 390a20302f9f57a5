"""The house of the packages: the shared protocol imports light, and the top-level packages
import one another only one way (HQ and the kiosk on the shared parts, never the reverse)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What either deployable carries that the other, or a tool, must not have to load.
HEAVY = ("paho", "amqtt", "requests", "kivy", "nfc", "sqlalchemy", "fastapi", "starlette", "uvicorn")

# Which of our top-level packages each one may import.
MAY_IMPORT = {
    "kiosk_protocol": set(),
    "backend_sync": {"kiosk_protocol"},
    "recommender": set(),
    "nfc_reader": {"kiosk_protocol"},
    "hq": {"kiosk_protocol", "backend_sync", "recommender"},
    "kiosk_app": {"kiosk_protocol", "backend_sync", "recommender", "nfc_reader", "hq", "assets"},
}


def _imported_modules(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
            elif isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
    return found


def test_importing_the_protocol_loads_no_broker_http_database_nfc_or_ui_library() -> None:
    code = (f"import json, sys; import kiosk_protocol; "
            f"print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(loaded.stdout) == []


def test_importing_backend_sync_loads_no_demo_broker_ui_or_hq() -> None:
    code = ("import json, sys; import backend_sync; "
            "print(json.dumps([name for name in ('amqtt', 'kivy', 'hq', 'kiosk_app', 'sqlalchemy', 'fastapi') "
            "if name in sys.modules]))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(loaded.stdout) == []


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_the_packages_below_it(package: str) -> None:
    ours = set(MAY_IMPORT)
    wrong = [f"{path.relative_to(ROOT)}: {module}" for path, module in _imported_modules(package)
             if (top := module.split(".")[0]) in ours | {"assets"} and top != package
             and top not in MAY_IMPORT[package]]
    assert wrong == []


def test_hq_uses_only_the_public_faces_of_the_shared_packages() -> None:
    private = [f"{path.relative_to(ROOT)}: {module}" for path, module in _imported_modules("hq")
               if module.split(".")[0] != "hq" and module.split(".")[0] in MAY_IMPORT
               and any(part.startswith("_") for part in module.split(".")[1:])]
    assert private == []
