"""Kiosk software releases against a real HTTP file server and real wheels of this project:
installed with pip beside the running release, never over it, and refused, with nothing
left behind, when they cannot be installed, do not import, are not what a release holds or
already failed their health check on this kiosk."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import SoftwareUpdater, publish_once
from hq._files import FileServer
from hq._releases import SoftwarePublisher
from kiosk_app import KioskConfig, KioskRuntime
from kiosk_app._software_slots import Trial
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import RELEASE_FILE, Refusal, UpdateKind, UpdateRefused, kiosk_topics, public_key_to_pem
from nfc_reader import TagKind, TagRead
from testkit.mosquitto import Mosquitto
from testkit.releases import build_kiosk_wheel
from testkit.waiting import eventually

HQ = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def good_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kiosk_wheel(tmp_path_factory.mktemp("release"), "0.2.0")


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[tuple[SoftwarePublisher, FileServer]]:
    publisher = SoftwarePublisher(tmp_path / "releases", HQ)
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    yield publisher, server
    server.stop()


def sign(publisher: SoftwarePublisher, files: dict[str, bytes], window_s: int = 60) -> bytes:
    """The next software release signed with exactly ``files`` (and a release.json), past the
    checks ``publish_software`` makes first: what a kiosk must refuse whoever signed it."""
    release = {RELEASE_FILE: json.dumps({"v": 1, "label": "0.2.0", "health_window_s": window_s}).encode()}
    return publisher._release(UpdateKind.SOFTWARE, {**release, **files}, {}, timedelta(days=1))


def wheel_files(wheels: Path) -> dict[str, bytes]:
    return {f"wheels/{wheel.name.lower()}": wheel.read_bytes() for wheel in wheels.glob("*.whl")}


def kiosk(tmp_path: Path, server: FileServer, running: int = 0, failed: int = 0) -> SoftwareUpdater:
    return SoftwareUpdater(tmp_path / "software", HQ.public_key(), server.url, running, failed=lambda: failed)


def refused(updater: SoftwareUpdater, envelope: bytes, reason: Refusal) -> str:
    with pytest.raises(UpdateRefused) as caught:
        updater.apply(envelope)
    assert caught.value.reason is reason
    versions = updater.root / "versions"
    assert not versions.exists() or sorted(p.name for p in versions.iterdir()) == [], "something left behind"
    return str(caught.value)


def test_a_release_is_installed_beside_the_running_one(hq: tuple[SoftwarePublisher, FileServer], good_wheels: Path,
                                                       tmp_path: Path) -> None:
    publisher, server = hq
    envelope = publisher.publish_software(good_wheels, "0.2.0", health_window_s=90)
    updater = kiosk(tmp_path, server)

    manifest = updater.apply(envelope)

    site = updater.root / "versions" / "1" / "site"
    assert manifest.version == 1
    assert (site / "kiosk_app" / "cli.py").is_file()
    assert sorted(p.name for p in site.glob("nfc_kiosk-*.dist-info")) == ["nfc_kiosk-0.2.0.dist-info"]
    assert updater.staged_release is not None and updater.staged_release.health_window_s == 90
    assert not (updater.root / "current").exists()  # the kiosk switches when idle, not the installer

    # Its manifest comes again with every reconnect: the release installed is kept, not installed again.
    (site / "installed-once").touch()
    assert updater.apply(envelope).version == 1
    assert (site / "installed-once").exists()


def test_a_release_whose_kiosk_does_not_import_is_refused(hq: tuple[SoftwarePublisher, FileServer],
                                                         tmp_path: Path) -> None:
    def break_the_cli(source: Path) -> None:
        cli = source / "kiosk_app" / "cli.py"
        cli.write_text(cli.read_text() + "\nimport a_module_no_release_brings\n")

    publisher, server = hq
    wheels = build_kiosk_wheel(tmp_path / "broken", "0.3.0", break_the_cli)

    problem = refused(kiosk(tmp_path, server), sign(publisher, wheel_files(wheels)), Refusal.INVALID_CONTENT)

    assert "importing the kiosk from it failed" in problem
    assert "a_module_no_release_brings" in problem


def test_a_wheel_pip_cannot_install_is_refused(hq: tuple[SoftwarePublisher, FileServer], tmp_path: Path) -> None:
    publisher, server = hq
    envelope = sign(publisher, {"wheels/nfc_kiosk-0.3.0-py3-none-any.whl": b"not a zip file"})

    assert "installing its wheels failed" in refused(kiosk(tmp_path, server), envelope, Refusal.INVALID_CONTENT)


@pytest.mark.parametrize(("files", "said"), [
    ({"wheels/requests-2.0-py3-none-any.whl": b"x"}, "no kiosk wheel"),
    ({"wheels/nfc_kiosk-0.3.0-py3-none-any.whl": b"x", "kiosk_app/cli.py": b"x"}, "only wheels/<wheel file>"),
    ({"wheels/extra/nfc_kiosk-0.3.0-py3-none-any.whl": b"x"}, "only wheels/<wheel file>"),
    ({"wheels/nfc_kiosk-0.3.0.tar.gz": b"x"}, "only wheels/<wheel file>"),
], ids=["no kiosk wheel", "a loose file", "a folder in the wheels", "not a wheel"])
def test_a_manifest_that_is_not_a_release_is_refused(hq: tuple[SoftwarePublisher, FileServer], tmp_path: Path,
                                                     files: dict[str, bytes], said: str) -> None:
    publisher, server = hq
    assert said in refused(kiosk(tmp_path, server), sign(publisher, files), Refusal.INVALID_CONTENT)


def test_a_release_without_its_description_is_refused(hq: tuple[SoftwarePublisher, FileServer], tmp_path: Path) -> None:
    publisher, server = hq
    envelope = publisher._release(UpdateKind.SOFTWARE, {"wheels/nfc_kiosk-0.3.0-py3-none-any.whl": b"x"}, {},
                                  timedelta(days=1))
    assert "without release.json" in refused(kiosk(tmp_path, server), envelope, Refusal.INVALID_CONTENT)


def test_a_release_that_failed_here_is_never_taken_again(hq: tuple[SoftwarePublisher, FileServer], good_wheels: Path,
                                                        tmp_path: Path) -> None:
    publisher, server = hq
    envelope = publisher.publish_software(good_wheels, "0.2.0")

    problem = refused(kiosk(tmp_path, server, failed=1), envelope, Refusal.FAILED_HERE)
    assert problem.endswith("release 1 failed its health check here")


def test_only_the_running_release_and_the_newest_are_kept(hq: tuple[SoftwarePublisher, FileServer], good_wheels: Path,
                                                         tmp_path: Path) -> None:
    publisher, server = hq
    first, second, third = (publisher.publish_software(good_wheels, "0.2.0") for _ in range(3))
    kiosk(tmp_path, server).apply(first)
    kiosk(tmp_path, server, running=1).apply(second)
    kiosk(tmp_path, server, running=1).apply(third)

    assert sorted(p.name for p in (tmp_path / "software" / "versions").iterdir()) == ["1", "3"]


def test_a_release_is_switched_to_only_while_idle_and_never_once_hq_took_it_back(
    hq: tuple[SoftwarePublisher, FileServer], good_wheels: Path, tmp_path: Path, mosquitto: Mosquitto,
) -> None:
    """The kiosk's runtime on a real broker: HQ's retained release on its topic, then taken back."""
    publisher, server = hq
    pem = tmp_path / "hq.pem"
    pem.write_bytes(public_key_to_pem(HQ.public_key()))
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader="udp:127.0.0.1:9",
                         broker=mosquitto.url, data_dir=tmp_path / "kiosk", hq_public_key=pem, files_url=server.url,
                         software_dir=tmp_path / "software")
    switched = threading.Event()
    runtime = KioskRuntime(config, on_outcome=lambda outcome: None, on_switch=switched.set)
    software = runtime.software
    assert software is not None
    topic = kiosk_topics("madrid-centro", "kiosk-01").software
    software.start()
    runtime.link.start()
    try:
        publish_once(mosquitto.url, topic, publisher.publish_software(good_wheels, "0.2.0", health_window_s=45),
                     retain=True, client_id="hq")
        assert eventually(lambda: software.ready is not None, 120)

        runtime.kiosk.handle(TagRead(TagKind.PRODUCT, "04a1", sku="BOOT-CHELSEA-BLK"))  # a shopper browsing
        assert not runtime.switch_if_idle()
        publish_once(mosquitto.url, topic, b"", retain=True, client_id="hq")  # a halted rollout takes it back
        assert eventually(lambda: software.ready is None)
        runtime.kiosk.end_session()
        assert not runtime.switch_if_idle() and not switched.is_set()
        assert software.slots.current == 0 and software.slots.trial() is None

        publish_once(mosquitto.url, topic, publisher.publish_software(good_wheels, "0.2.0", health_window_s=45),
                     retain=True, client_id="hq")  # resumed: release 2, the same wheels
        assert eventually(lambda: software.ready is not None and software.ready.version == 2, 120)
        assert runtime.switch_if_idle()
    finally:
        runtime.link.stop()
        software.stop()
    assert switched.is_set()
    assert software.slots.current == 2
    assert software.slots.trial() == Trial(2, 0, 45)
