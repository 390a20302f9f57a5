"""The deploy files of `deploy/`: each systemd unit passes `systemd-analyze verify` over a
staged root holding the programs it starts, and names only options its command has; HQ's
service says it is ready the way its unit expects. (The kiosk's watchdog:
``test_kiosk_watchdog``.)"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import click
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.cli import main
from kiosk_app.demo import free_port
from kiosk_protocol import write_atomically
from testkit.mosquitto import Mosquitto
from testkit.notify_socket import NotifySocket

DEPLOY = Path(__file__).parents[2] / "deploy"
UNITS = sorted([*DEPLOY.glob("*/*.service"), *DEPLOY.glob("*/*.path")])
KIOSK_UNITS = [unit for unit in UNITS if "/bin/kiosk " in unit.read_text()]  # those that run `kiosk ...`
KIOSK = Path(sys.executable).with_name("kiosk")  # the console script this checkout installed


def _exec_start(unit: Path) -> list[str]:
    """The unit's ExecStart as words, its continuation lines joined (none for a path unit)."""
    text = unit.read_text().replace("\\\n", " ")
    lines = re.findall(r"^ExecStart=(.+)$", text, re.M)
    return shlex.split(lines[0]) if lines else []


def _kiosk_words(words: list[str]) -> list[str]:
    """The `kiosk ...` command of an ExecStart (cage's own options and `--` dropped)."""
    start = next(n for n, word in enumerate(words) if word.endswith("/bin/kiosk"))
    return words[start + 1:]


@pytest.fixture(scope="module")
def staged_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with systemd's own units, the deploy units, and the programs they start."""
    root = tmp_path_factory.mktemp("root")
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
        for word in _exec_start(unit):
            if word.startswith("/") and word.endswith(("/kiosk", "/cage", "/systemctl")):
                program = root / word.lstrip("/")
                program.parent.mkdir(parents=True, exist_ok=True)
                # cage comes from scripts/system-deps, the kiosk from this checkout.
                shutil.copy(KIOSK if word.endswith("/kiosk") else str(shutil.which(Path(word).name)), program)
    return root


def test_every_service_has_a_unit() -> None:
    assert [unit.name for unit in UNITS] == [
        "kiosk-broker-reload.path", "kiosk-broker-reload.service", "kiosk-hq-files.service", "kiosk-hq.service",
        "kiosk-enrol.service", "kiosk.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_the_unit_passes_systemd_analyze_verify(unit: Path, staged_root: Path) -> None:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={staged_root}",
                             f"/etc/systemd/system/{unit.name}"], capture_output=True, text=True, timeout=60)

    # Any complaint (an unknown key, a program missing, a bad value) is printed, even those it ignores.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def _unknown_options(words: list[str]) -> set[str]:
    """The options of `kiosk WORDS...` its command does not have (`supervise`: its own, and its kiosk's)."""
    command: click.Command | None = main
    while isinstance(command, click.Group):
        command = command.get_command(click.Context(command), words.pop(0))
    assert command is not None
    known = {flag for param in command.params for flag in getattr(param, "opts", [])}
    supervised = words[words.index("--") + 1:] if command.name == "supervise" else []
    own = words[:len(words) - len(supervised) - 1] if supervised else words
    unknown = {word for word in own if word.startswith("--")} - known
    return unknown | (_unknown_options(supervised) if supervised else set())


@pytest.mark.parametrize("unit", KIOSK_UNITS, ids=lambda unit: unit.name)
def test_the_unit_names_only_options_its_command_has_and_no_secret(unit: Path) -> None:
    words = _kiosk_words(_exec_start(unit))
    named = [word for word in words if word.startswith("--") and word != "--"]

    assert named and not _unknown_options(list(words))
    # A secret comes from a file the unit names, never from the command line itself.
    assert not {"--broker", "--db", "--pin"} & set(named)
    assert not any(re.search(r"://[^/\s]*:[^@/\s]*@", word) for word in words)


def test_hq_serve_tells_systemd_it_is_ready_once_its_api_answers(
    mosquitto: Mosquitto, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path],
) -> None:
    """As `kiosk-hq.service` (Type=notify) starts it: a unit after it finds HQ serving."""
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"web": "web-key-0123456789abcdef"}))
    port = free_port()
    notify = NotifySocket(tmp_path / "notify")
    child = subprocess.Popen(
        [sys.executable, "-m", "kiosk_app", "hq", "serve", "--db", f"sqlite:///{tmp_path / 'hq.sqlite'}",
         "--hq-key", str(hq_key[1]), "--api-port", str(port), "--api-keys", str(keys)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "KIOSK_BROKER_URL": mosquitto.url, "NOTIFY_SOCKET": str(notify.path)})
    try:
        assert notify.wait_for("READY=1") == "READY=1\nSTATUS=serving"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=10).status_code == 200
    finally:
        child.send_signal(signal.SIGINT)
        _, errors = child.communicate(timeout=60)
        notify.close()
    assert child.returncode == 0, errors


def test_the_kiosk_unit_s_own_command_starts_the_supervised_kiosk_under_xvfb(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    """`kiosk.service`'s ExecStart, word for word after cage (which refuses to run as root), with
    kiosk.env's settings and every path it names under a staged root: the kiosk says it is ready
    the way the unit expects, runs the installed release and stops on systemd's SIGTERM."""
    from kiosk_app.demo import demo_catalog_path
    from nfc_reader import TagEmulator

    unit = DEPLOY / "kiosk" / "kiosk.service"
    root = tmp_path / "root"
    settings = dict(line.split("=", 1) for line in (DEPLOY / "kiosk" / "kiosk.env").read_text().splitlines()
                    if line and not line.startswith("#"))
    reader = TagEmulator(free_port(socket.SOCK_DGRAM))
    settings.update(KIOSK_READER=reader.path, KIOSK_FILES_URL=f"http://127.0.0.1:{free_port()}")

    def staged(word: str) -> str:
        word = re.sub(r"\$\{(\w+)\}", lambda found: settings[found.group(1)], word)
        return str(root) + word if word.startswith("/") else word

    words = [staged(word) for word in _kiosk_words(_exec_start(unit))]
    (catalog := root / "opt/kiosk/catalog").parent.mkdir(parents=True)
    shutil.copytree(demo_catalog_path().parent, catalog)
    shutil.copy(demo_catalog_path(), catalog / "catalog.json")
    (root / "etc/kiosk").mkdir(parents=True)
    write_atomically(root / "etc/kiosk/broker.url", mosquitto.url.encode())  # owner-only, as the guide makes it
    shutil.copy(hq_key[1], root / "etc/kiosk/hq_public_key.pem")
    [environment] = re.findall(r"^Environment=(.+)$", unit.read_text(), re.M)
    unit_env = {name: staged(value) for name, value in (word.split("=", 1) for word in shlex.split(environment))}
    notify = NotifySocket(tmp_path / "notify")
    with (tmp_path / "kiosk.log").open("wb") as log:  # the child keeps its own copy
        child = subprocess.Popen([str(KIOSK), *words], stdout=subprocess.DEVNULL, stderr=log,
                                 env={**os.environ, **unit_env, "DISPLAY": xvfb_display,
                                      "NOTIFY_SOCKET": str(notify.path)})
    try:
        assert notify.wait_for("READY=1", 120) == "READY=1\nSTATUS=showing madrid-centro · kiosk-01"
        assert (root / "var/lib/kiosk/software").is_dir()  # the supervisor's, where releases will go
        assert (root / "var/lib/kiosk/kivy").is_dir()  # Kivy kept its settings where the unit said
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(60)
        notify.close()
        reader.close()
    assert code == 0, (tmp_path / "kiosk.log").read_text(errors="replace")[-3000:]
