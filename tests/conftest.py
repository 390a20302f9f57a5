"""Real parts for tests: Mosquitto on a free port with its own config, a virtual screen
(Xvfb) for Kivy, an emulated tag on a free udp port, and temporary databases.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import FleetView, IngestWorker, ProfileStore
from kiosk_app import KioskConfig
from kiosk_app.demo import free_port
from kiosk_protocol import public_key_to_pem
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator

# Kivy reads these at import: no argv parsing, no files in the home directory.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

PG_ADMIN_URL = os.environ.get(
    "KIOSK_TEST_PG_URL", "postgresql+psycopg://kiosk_test:kiosk_test@127.0.0.1:5432/postgres"
)


def eventually(condition: Callable[[], bool], timeout_s: float = 30.0, poll_s: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or the time is up; returns its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Block until something accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Mosquitto:
    """A real Mosquitto broker owned by one test; it can be stopped and restarted.

    ``listener`` replaces the default plain, anonymous listener (e.g. with a TLS one).
    """

    def __init__(self, workdir: Path, listener: Callable[[int], str] | None = None) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = workdir / "mosquitto.conf"
        listen = listener(self.port) if listener else f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        self.config.write_text(
            listen
            + f"user {getpass.getuser()}\n"  # as root it would drop to 'mosquitto' and lose its persistence dir
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        self._process = subprocess.Popen([self.binary, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the broker (it saves its persistent state)."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)

    def kill(self) -> None:
        """Kill the broker with SIGKILL: whatever it had not saved is gone."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running Mosquitto on a free port."""
    broker = Mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A virtual X screen for the whole session; DISPLAY points at it."""
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = f":{pipe.readline().strip()}"
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    yield display
    process.terminate()
    process.wait(10)
    if previous is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = previous


@pytest.fixture
def emulator() -> Iterator[TagEmulator]:
    """An emulated Type 3 tag on a free udp port."""
    tag = TagEmulator(free_port(socket.SOCK_DGRAM))
    yield tag
    tag.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database."""
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"kiosk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as db:
        db.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def hq_key(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    """HQ's signing key and the path of its public key PEM."""
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "hq_public_key.pem"
    pem.write_bytes(public_key_to_pem(key.public_key()))
    return key, pem


@pytest.fixture
def fleet(mosquitto: Mosquitto) -> Iterator[FleetView]:
    """HQ's fleet view of the test's broker, subscribed."""
    view = FleetView(mosquitto.url)
    view.start()
    assert view.subscribed.wait(10)
    yield view
    view.stop()


@pytest.fixture
def hq_ingest(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[IngestWorker]:
    """HQ's ingest worker on the test broker, subscribed, storing into a fresh SQLite, checking cards by ``hq_key``."""
    worker = IngestWorker(mosquitto.url, ProfileStore(sqlite_url), verify_card=card_verifier(hq_key[0].public_key()))
    worker.start()
    assert worker.subscribed.wait(10)
    yield worker
    worker.stop()
    worker.store.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB filesystem (tmpfs; needs root), so a full disk is SQLite's SQLITE_FULL, not a pretence."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill_disk(directory: Path) -> Path:
    """Fill the filesystem holding ``directory`` to its last byte; returns the filler (delete it to make room)."""
    filler = directory / "filler.bin"
    with filler.open("wb", buffering=0) as out:
        for size in (64 * 1024, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    try:
        with (directory / "probe").open("wb", buffering=0) as probe:
            probe.write(b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError(f"{directory} is not full")
    return filler


class ChmodRecorder:
    """Every chmod/fchmod the process makes while recording, from Python's audit hooks (a real record, no stub).

    A file found 0600 under umask 0 with no chmod on the way was created 0600: at no
    moment could anyone else read it.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[object, int]] = []
        self.recording = False

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        if self.recording and event == "os.chmod":
            self.calls.append((args[0], int(args[1])))  # type: ignore[call-overload]


_CHMODS = ChmodRecorder()
sys.addaudithook(_CHMODS.hook)  # hooks cannot be removed: it records only inside ``chmods_under_umask_0``


@pytest.fixture
def chmods_under_umask_0() -> Iterator[ChmodRecorder]:
    """umask 0 (a file made wide stays wide) and a record of every chmod meanwhile."""
    previous = os.umask(0)
    _CHMODS.calls.clear()
    _CHMODS.recording = True
    try:
        yield _CHMODS
    finally:
        _CHMODS.recording = False
        os.umask(previous)


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait on the event loop until ``condition`` holds; TimeoutError when it does not in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def frames_drawn(count: int = 2) -> None:
    """Wait until Kivy has drawn ``count`` more frames: what changed before is laid out and on screen.

    Each frame runs the pending layouts first, then draws (needs the running kiosk window).
    """
    from kivy.clock import Clock

    target = Clock.frames_displayed + count
    await until(lambda: Clock.frames_displayed >= target)


def run_kiosk_window(config: KioskConfig, scenario: Callable[[Any], Awaitable[None]]) -> None:
    """Run the real kiosk window and ``scenario(app)`` beside it; the window closes after.

    Needs the ``xvfb_display`` fixture (Kivy opens its window on first use).
    """
    from kiosk_app.ui import KioskApp

    app = KioskApp(config)

    async def drive() -> None:
        try:
            await until(lambda: app.root is not None and app.runtime.link.connected)
            await scenario(app)
        finally:
            app.stop()

    async def both() -> None:
        await asyncio.gather(app.async_run("asyncio"), drive())

    asyncio.run(both())
