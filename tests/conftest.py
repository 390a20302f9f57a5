"""The tests' fixtures: thin wrappers over the real parts in ``testkit`` (Mosquitto on a free
port with its own config, a virtual screen for Kivy, an emulated tag on a free udp port,
throwaway databases, a small real disk, a record of every chmod).

``tests/unit`` needs none of the real parts; everything in ``tests/integration`` is
marked ``slow`` (its own conftest), so ``pytest -m "not slow"`` is the quick loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import FleetView, IngestWorker, ProfileStore
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator
from testkit import chmods, disk, kivy_window, tags, xvfb
from testkit.chmods import ChmodRecorder
from testkit.keys import hq_signing_key
from testkit.mosquitto import Mosquitto
from testkit.postgres import ThrowawayDatabase

kivy_window.quiet_kivy()  # before any test module imports Kivy


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
    with xvfb.virtual_display() as display:
        yield display


@pytest.fixture
def emulator() -> Iterator[TagEmulator]:
    """An emulated Type 3 tag on a free udp port."""
    with tags.emulated_tag() as tag:
        yield tag


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database."""
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    with ThrowawayDatabase() as database:
        yield database.url


@pytest.fixture
def hq_key(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    """HQ's signing key and the path of its public key PEM."""
    return hq_signing_key(tmp_path)


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
    with disk.small_disk(tmp_path) as mount_point:
        yield mount_point


@pytest.fixture
def chmods_under_umask_0() -> Iterator[ChmodRecorder]:
    """umask 0 (a file made wide stays wide) and a record of every chmod meanwhile."""
    with chmods.chmods_under_umask_0() as recorder:
        yield recorder
