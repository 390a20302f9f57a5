"""The one ``kiosk`` command on a slim install: each subcommand says which extra it needs
instead of failing on an import, and ``kiosk --help`` lists every one without importing it.

``scripts/check-installs`` runs the same commands in real ``[kiosk]`` and ``[hq]`` installs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from kiosk_app._extras import refusal, required_by
from kiosk_app.cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parents[2]

REQUIRES_DIST = [
    "click>=8.1",
    'kivy[base]>=2.3.0; extra == "kiosk"',
    "nfcpy<1.1,>=1.0.4 ; extra == 'kiosk'",
    'psycopg[binary]>=3.1; extra == "hq"',
    'fastapi-offline>=1.7.7; python_version >= "3.11" and extra == "hq"',
    'implicit>=0.7; extra == "eval"',
]
REQUIRED_BY = [
    ("kiosk", ["kivy", "nfcpy"]),
    ("hq", ["psycopg", "fastapi-offline"]),
    ("eval", ["implicit"]),
    ("dev", []),
]

# An nfc-kiosk whose extras ask for distributions no machine has, put first on the path:
# every command that needs an extra must then refuse.
FAKE_METADATA = """Metadata-Version: 2.1
Name: nfc-kiosk
Version: 0.1.0
Requires-Dist: click>=8.1
Provides-Extra: kiosk
Requires-Dist: absent-kiosk-library>=1; extra == "kiosk"
Provides-Extra: hq
Requires-Dist: absent-hq-library>=1; extra == "hq"
Provides-Extra: eval
Requires-Dist: absent-eval-library>=1; extra == "eval"
"""
REFUSED = [
    (["hq", "--help"], "runs at HQ; this install lacks absent-hq-library: pip install 'nfc-kiosk[hq]'"),
    (["hq", "serve", "--api-port", "8000"], "pip install 'nfc-kiosk[hq]'"),
    (["run", "--help"], "runs on a store kiosk; this install lacks absent-kiosk-library: "
                        "pip install 'nfc-kiosk[kiosk]'"),
    (["nfc", "read"], "pip install 'nfc-kiosk[kiosk]'"),
    (["staff-pin", "--data-dir", "x"], "pip install 'nfc-kiosk[kiosk]'"),
    (["demo", "--headless"], "runs on a store kiosk and at HQ; this install lacks absent-kiosk-library, "
                             "absent-hq-library: pip install 'nfc-kiosk[kiosk,hq]'"),
    (["recommender", "evaluate", "--train", "{catalog}", "--test", "{catalog}", "--json", "out.json"],
     "runs for offline evaluation; this install lacks absent-eval-library: pip install 'nfc-kiosk[eval]'"),
]


@pytest.mark.parametrize(("extra", "names"), REQUIRED_BY)
def test_an_extra_asks_for_the_distributions_marked_with_it(extra: str, names: list[str]) -> None:
    assert required_by(extra, REQUIRES_DIST) == names


def test_a_refusal_names_the_place_what_is_missing_and_the_install_command() -> None:
    assert refusal("kiosk hq", ("hq",), ["fastapi", "SQLAlchemy"]) == (
        "`kiosk hq` runs at HQ; this install lacks fastapi, SQLAlchemy: pip install 'nfc-kiosk[hq]'")


@pytest.fixture
def slim_install(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``kiosk`` command whose nfc-kiosk has none of its extras' distributions."""
    info = tmp_path / "site" / "nfc_kiosk-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(FAKE_METADATA)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(info.parent), str(ROOT)])}


def _kiosk(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk_app", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_a_command_whose_extra_is_missing_says_what_to_install(args: list[str], message: str, tmp_path: Path,
                                                               slim_install: dict[str, str]) -> None:
    catalog = ROOT / "assets" / "catalog" / "demo.json"
    result = _kiosk([arg.format(catalog=catalog) for arg in args], slim_install, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_kiosk_help_lists_every_command_and_what_a_missing_one_needs(tmp_path: Path,
                                                                     slim_install: dict[str, str]) -> None:
    result = _kiosk(["--help"], slim_install, tmp_path)
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:")[1]
    assert [line.split()[0] for line in listed.splitlines() if line[:3].strip()] == list(SUBCOMMANDS)
    notes = " ".join(listed.split())
    assert notes.count("(this install lacks the kiosk extra)") == 6  # run, supervise, enrol, staff-pin, broker, nfc
    assert notes.count("(this install lacks the kiosk and hq extras)") == 1
    assert notes.count("(this install lacks the hq extra)") == 1


def test_the_help_listing_says_what_each_command_says_of_itself() -> None:
    context = click.Context(main, info_name="kiosk")
    for name, subcommand in SUBCOMMANDS.items():
        command = main.get_command(context, name)
        assert command is not None and command.get_short_help_str(limit=200) == subcommand.summary
