"""A kiosk's own software updated the way a fleet is: the real kiosk window under Xvfb, run
by `kiosk supervise`, is sent a release by HQ's rollout (real Mosquitto, HQ's file server,
wheels built from this project's source), installs it beside the one running, switches
while idle and proves it healthy: window, reader, broker, a self-test tap through the
emulator. A release whose self-test tap fails is switched back from on its own, the
kiosk's status says so (the release that runs, never the one sent), and the rollout halts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import FileServer, FleetView, KioskView, ProfileStore, RolloutState, RolloutWatch, SoftwarePublisher
from hq._rollouts import RolloutLog
from kiosk_app._software_slots import SoftwareSlots
from kiosk_app.cli import main
from kiosk_app.demo import demo_catalog_path, free_port
from nfc_reader import TagEmulator
from testkit.mosquitto import Mosquitto
from testkit.releases import build_kiosk_wheel
from testkit.waiting import eventually

STORE, KIOSK = "madrid-centro", "kiosk-01"
_STARTS_S = 180.0  # a kiosk window started twice (installed, then on its new release) on a busy machine


@pytest.fixture
def files(tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[tuple[SoftwarePublisher, FileServer]]:
    """HQ's releases, signed with the key the kiosk trusts, and the file server they are fetched from."""
    publisher = SoftwarePublisher(tmp_path / "releases", hq_key[0])
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    yield publisher, server
    server.stop()


def fail_the_self_test(source: Path) -> None:
    """A release whose product taps find nothing: its self-test tap must catch it."""
    kiosk = source / "kiosk_app" / "kiosk.py"
    text = kiosk.read_text()
    shown = "        return TapOutcome(OutcomeKind.PRODUCT, product=product, suggestions=self._suggest(product))\n"
    assert text.count(shown) == 1
    kiosk.write_text(text.replace(shown, "        return TapOutcome(OutcomeKind.UNKNOWN_PRODUCT, reason='lost')\n"))


@pytest.fixture
def supervised(xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
               files: tuple[SoftwarePublisher, FileServer]) -> Iterator[SoftwareSlots]:
    """`kiosk supervise` running the demo store's kiosk-01, as the kiosk's systemd unit runs it."""
    _, server = files
    reader = TagEmulator(free_port(socket.SOCK_DGRAM))
    software = tmp_path / "software"
    log = (tmp_path / "kiosk.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "kiosk_app", "supervise", "--software-dir", str(software), "--",
         "run", "--store", STORE, "--kiosk", KIOSK, "--catalog", str(demo_catalog_path()), "--reader", reader.path,
         "--data-dir", str(tmp_path / "kiosk"), "--hq-key", str(hq_key[1]), "--files-url", server.url, "--window"],
        env={**os.environ, "KIOSK_BROKER_URL": mosquitto.url, "DISPLAY": xvfb_display, "KIVY_NO_ARGS": "1"},
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        yield SoftwareSlots(software)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)
        log.close()
        reader.close()


def status(fleet: FleetView) -> KioskView | None:
    return fleet.kiosk(STORE, KIOSK)


@pytest.fixture
def rollouts(fleet: FleetView, files: tuple[SoftwarePublisher, FileServer], sqlite_url: str) -> Iterator[RolloutLog]:
    """HQ's rollout watch, as `kiosk hq serve --releases-dir` runs it (no soak: a stage is done once it runs)."""
    store = ProfileStore(sqlite_url)
    watch = RolloutWatch(store.rollouts, fleet, files[0].directory, soak_s=0, round_s=0.2)
    watch.start()
    yield store.rollouts
    watch.stop()
    store.close()


def start_rollout(release: int, directory: Path, sqlite_url: str) -> None:
    started = CliRunner().invoke(main, ["hq", "rollout", "start", str(release), "--dir", str(directory),
                                        "--canary", f"{STORE}/{KIOSK}", "--percent", "100", "--db", sqlite_url])
    assert started.exit_code == 0, started.output


@pytest.mark.timeout(600)  # two releases built and installed, three kiosk starts: minutes on a busy machine
def test_a_release_that_proves_itself_is_rolled_out_and_a_canary_failing_its_self_test_halts_the_next(
    supervised: SoftwareSlots, fleet: FleetView, rollouts: RolloutLog, files: tuple[SoftwarePublisher, FileServer],
    tmp_path: Path, sqlite_url: str,
) -> None:
    publisher, _ = files
    log = tmp_path / "kiosk.log"

    def said() -> str:
        return log.read_text(errors="replace")[-4000:]

    def state() -> tuple[int, RolloutState] | None:
        rollout = rollouts.current()
        return (rollout.release, rollout.state) if rollout else None

    assert eventually(lambda: (view := status(fleet)) is not None and view.status.state.value == "online",
                      _STARTS_S), said()
    assert status(fleet).status.software_release == 0  # type: ignore[union-attr]
    fleet.recheck()
    fleet.recheck()  # a whole round since subscribing: the fleet is heard

    publisher.publish_software(build_kiosk_wheel(tmp_path / "good", "0.2.0"), "0.2.0", health_window_s=120)
    start_rollout(1, publisher.directory, sqlite_url)

    def runs(release_number: int, app_version: str) -> bool:
        view = status(fleet)
        return (view is not None and view.status.software_release == release_number
                and view.status.app_version == app_version)

    assert eventually(lambda: runs(1, "0.2.0"), _STARTS_S), said()
    assert eventually(lambda: supervised.trial() is None, _STARTS_S), said()  # healthy: no longer on trial
    assert supervised.current == 1 and supervised.failure() is None
    assert "release 1 passed its self-test tap" in said()
    assert eventually(lambda: state() == (1, RolloutState.DONE)), said()

    broken = build_kiosk_wheel(tmp_path / "broken", "0.3.0", fail_the_self_test)
    publisher.publish_software(broken, "0.3.0", health_window_s=120)
    start_rollout(2, publisher.directory, sqlite_url)

    def switched_back() -> bool:
        view = status(fleet)
        return view is not None and view.status.software_failed == 2 and view.status.software_release == 1

    assert eventually(switched_back, 2 * _STARTS_S), said()
    view = status(fleet)
    assert view is not None and view.status.app_version == "0.2.0"  # what runs, never what was sent
    problem = view.status.software_problem
    assert "release 2 switched back: self-test tap: the tap of" in problem, problem
    assert "came to unknown_product lost" in problem, problem
    assert supervised.current == 1 and supervised.trial() is None
    failure = supervised.failure()
    assert failure is not None and failure.release == 2

    # The canary failing halts the rollout, saying which kiosk and why.
    assert eventually(lambda: state() == (2, RolloutState.HALTED)), said()
    halted = rollouts.current()
    assert halted is not None and halted.halted_reason is not None
    assert halted.halted_reason.startswith(f"{STORE}/{KIOSK} switched back from release 2: "), halted.halted_reason
    assert "self-test tap" in halted.halted_reason
