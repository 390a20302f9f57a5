"""The house of the packages: the shared protocol imports light, and the top-level packages
import one another only one way (HQ and the kiosk on the shared parts, never the reverse)."""

from __future__ import annotations

import ast
import importlib
import json
import os
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
    ours = set(MAY_IMPORT) | {"assets", "testkit", "tests", "benchmarks"}
    wrong = [f"{path.relative_to(ROOT)}: {module}" for path, module in _imported_modules(package)
             if (top := module.split(".")[0]) in ours and top != package
             and top not in MAY_IMPORT[package]]
    assert wrong == []


def test_a_test_takes_its_helpers_from_testkit_or_a_helper_module_never_from_another_test() -> None:
    tests = [path for path in sorted((ROOT / "tests").rglob("*.py")) if path.name.startswith("test_")]
    from_tests = [f"{path.relative_to(ROOT)}: {module}" for path in tests
                  for node in ast.walk(ast.parse(path.read_text(), str(path)))
                  if isinstance(node, ast.ImportFrom) and (module := node.module or "").startswith("tests.")
                  and module.rsplit(".", 1)[-1].startswith("test_")]
    assert from_tests == []


def test_hq_uses_only_the_public_faces_of_the_shared_packages() -> None:
    private = [f"{path.relative_to(ROOT)}: {module}" for path, module in _imported_modules("hq")
               if module.split(".")[0] != "hq" and module.split(".")[0] in MAY_IMPORT
               and any(part.startswith("_") for part in module.split(".")[1:])]
    assert private == []


# The runtime's parts the screens must not reach into: they use its face, KioskControls.
RUNTIME_PARTS = {"kiosk", "reader", "link", "outbox"}


def _is_the_runtime(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "runtime" in name.lower() or "controls" in name.lower()


def test_the_screens_use_the_runtime_s_face_and_never_its_parts() -> None:
    reaching_in = [f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}"
                   for path in sorted((ROOT / "kiosk_app" / "ui").glob("*.py"))
                   for node in ast.walk(ast.parse(path.read_text(), str(path)))
                   if isinstance(node, ast.Attribute) and node.attr in RUNTIME_PARTS and _is_the_runtime(node.value)]
    assert reaching_in == []
    # The check itself sees such an access, written any of the ways the screens name the runtime.
    for code in ("self.runtime.kiosk.machine", "self._runtime.outbox", "self._controls.reader.cancel_write()",
                 "runtime.link.connected"):
        assert any(isinstance(node, ast.Attribute) and node.attr in RUNTIME_PARTS and _is_the_runtime(node.value)
                   for node in ast.walk(ast.parse(code)))


# What each deployable's install leaves out (setup.cfg's extras): HQ's server has no kiosk
# libraries, a store tablet none of HQ's.
KIOSK_ONLY = ("kivy", "nfc", "ndef", "amqtt", "babel", "segno", "requests")
HQ_ONLY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg", "limits", "fastapi_offline", "jinja2",
           "standardwebhooks", "hq")


def _loaded_after(code: str, names: tuple[str, ...], tmp_path: Path) -> list[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps([name for name in {names!r} if name in sys.modules]))"
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert loaded.returncode == 0, loaded.stderr
    return list(json.loads(loaded.stdout.splitlines()[-1]))


def test_the_hq_side_loads_no_kiosk_library(tmp_path: Path) -> None:
    code = f"""
import secrets
import click
import hq, hq.cli
from hq import ApiKeys, FleetView, ProfileStore, create_app
from kiosk_app.cli import main
keys = ApiKeys({{"web": secrets.token_urlsafe(32), "hq": secrets.token_urlsafe(32)}})
create_app(ProfileStore("sqlite:///{tmp_path / 'hq.sqlite'}"), keys, fleet=FleetView("mqtt://127.0.0.1:9"))
context = click.Context(main, info_name="kiosk")
for name in ("hq", "recommender"):
    main.get_command(context, name)
"""
    assert _loaded_after(code, KIOSK_ONLY, tmp_path) == []


def test_the_kiosk_side_loads_no_hq_library(tmp_path: Path) -> None:
    code = """
import click
import backend_sync
import kiosk_app.runtime, kiosk_app.ui, kiosk_app._broker
from kiosk_app import KioskConfig, KioskRuntime
from backend_sync import CatalogUpdater, KioskLink, Outbox, ProfileCache
from kiosk_app.cli import main
context = click.Context(main, info_name="kiosk")
for name in ("run", "staff-pin", "broker", "nfc", "recommender"):
    main.get_command(context, name)
"""
    assert _loaded_after(code, HQ_ONLY, tmp_path) == []


@pytest.mark.parametrize("package", ["backend_sync", "kiosk_app"])
def test_a_lazy_package_face_gives_every_name_it_lists(package: str) -> None:
    face = importlib.import_module(package)
    assert set(face._HOME) == set(face.__all__)
    assert all(getattr(face, name) is not None for name in face.__all__)
