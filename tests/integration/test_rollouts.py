"""A software rollout driven through a real Mosquitto: the release's signed manifest retained
on each stage's kiosks' software topics, stages advancing as the kiosks report running it, a
kiosk switching back halting it and the release taken back from those not on it, and a resume."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import FleetView, ProfileStore, RolloutState, RolloutWatch, SoftwarePublisher, Stage
from hq._rollout_stages import percent_picks
from kiosk_app.cli import main
from kiosk_protocol import UpdateKind, kiosk_topics, verify_manifest
from testkit.broker_client import Client
from testkit.fleet_status import report
from testkit.mosquitto import Mosquitto
from testkit.releases import small_wheel
from testkit.waiting import eventually

KEY = Ed25519PrivateKey.generate()
MADRID = [("madrid-centro", f"kiosk-0{n}") for n in range(1, 5)]
SEVILLA = [("sevilla-nervion", f"kiosk-0{n}") for n in range(1, 3)]
FLEET = MADRID + SEVILLA
CANARY = ("madrid-centro", "kiosk-01")


class SoftwareTopics:
    """What every kiosk would hear on its software topic, in order."""

    def __init__(self, url: str) -> None:
        self.client = Client(url, "kiosks-software")
        assert self.client.connected.wait(10)
        self.client.client.subscribe("kiosk/+/+/software", qos=1)
        assert eventually(lambda: len(self.client.subacks) == 1)

    def last(self, key: tuple[str, str]) -> bytes | None:
        heard = [payload for topic, payload in self.client.received if topic == kiosk_topics(*key).software]
        return heard[-1] if heard else None

    def heard_by(self) -> set[tuple[str, str]]:
        return {(topic.split("/")[1], topic.split("/")[2]) for topic, _ in self.client.received}


@pytest.fixture
def bundles(tmp_path: Path) -> Path:
    wheels = tmp_path / "wheels"
    small_wheel(wheels, "nfc_kiosk-1.5.0-py3-none-any.whl")
    directory = tmp_path / "bundles"
    SoftwarePublisher(directory, KEY).publish_software(wheels, "1.5.0")
    return directory


@pytest.fixture
def store(sqlite_url: str) -> Iterator[ProfileStore]:
    profiles = ProfileStore(sqlite_url)
    yield profiles
    profiles.close()


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, ["hq", "rollout", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _runs(mosquitto: Mosquitto, fleet: FleetView, keys: list[tuple[str, str]], release: int = 1) -> None:
    for store, kiosk in keys:
        report(mosquitto.port, store, kiosk, software_release=release)
    assert eventually(lambda: all(fleet.kiosk(*key).status.software_release == release  # type: ignore[union-attr]
                                  for key in keys))


def test_a_release_goes_out_stage_by_stage_halts_on_a_switch_back_and_resumes_without_that_kiosk(
        mosquitto: Mosquitto, fleet: FleetView, store: ProfileStore, bundles: Path, sqlite_url: str) -> None:
    topics = SoftwareTopics(mosquitto.url)
    for key in FLEET:
        report(mosquitto.port, *key)
    assert eventually(lambda: len(fleet.kiosks()) == len(FLEET))
    fleet.recheck()
    fleet.recheck()  # a whole round since subscribing: the fleet is heard
    watch = RolloutWatch(store.rollouts, fleet, bundles, soak_s=0)
    started = _run("start", "1", "--dir", str(bundles), "--canary", "madrid-centro/kiosk-01", "--percent", "50",
                   "--db", sqlite_url)
    assert "rollout of release 1 (1.5.0) started: first to madrid-centro/kiosk-01" in started
    again = CliRunner().invoke(main, ["hq", "rollout", "start", "1", "--dir", str(bundles), "--canary",
                                      "sevilla-nervion/kiosk-01", "--percent", "10", "--db", sqlite_url])
    assert again.exit_code == 1 and "is running at its canary stage" in again.output

    # The canary first, and only the canary.
    watch.round()
    assert eventually(lambda: topics.last(CANARY) is not None)
    manifest = verify_manifest(KEY.public_key(), topics.last(CANARY) or b"", UpdateKind.SOFTWARE, 0,
                               datetime.now(UTC))
    assert manifest.version == 1 and "release.json" in manifest.files
    assert watch.stats.sent == 1 and topics.heard_by() == {CANARY}
    watch.round()  # nothing new: not sent twice
    assert watch.stats.sent == 1
    assert "kiosks: 1 targets, 0 on release, 0 failed, 1 waiting" in _run("status", "--db", sqlite_url)

    # The canary runs it: with no soak time, the percent stage starts and reaches half of each store.
    _runs(mosquitto, fleet, [CANARY])
    watch.round()
    picks = percent_picks(1, 50, FLEET) | {CANARY}
    assert len([key for key in picks if key[0] == "sevilla-nervion"]) == 1
    assert eventually(lambda: topics.heard_by() == picks)
    rollout = store.rollouts.current()
    assert rollout is not None and (rollout.stage, rollout.state) == (Stage.PERCENT, RolloutState.RUNNING)

    # One of them switches back: the rollout halts, and every kiosk not on the release hears it is not wanted.
    failing = sorted(picks - {CANARY})[0]
    report(mosquitto.port, *failing, software_failed=1, software_problem="the window sent no heartbeat in 180 s")
    assert eventually(lambda: fleet.kiosk(*failing).status.software_failed == 1)  # type: ignore[union-attr]
    watch.round()
    rollout = store.rollouts.current()
    assert rollout is not None and rollout.state is RolloutState.HALTED
    assert rollout.halted_reason == (f"{failing[0]}/{failing[1]} switched back from release 1: "
                                     "the window sent no heartbeat in 180 s")
    waiting = picks - {CANARY}
    assert eventually(lambda: all(topics.last(key) == b"" for key in waiting))
    assert topics.last(CANARY) not in (None, b"")  # it runs the release, healthy: it keeps it
    assert watch.stats.taken_back == len(waiting)
    status = _run("status", "--db", sqlite_url)
    assert "state: halted" in status and f"halted: {failing[0]}/{failing[1]} switched back" in status
    assert f"left out: {failing[0]}/{failing[1]}" in status
    watch.round()
    assert watch.stats.taken_back == len(waiting)  # once

    # Resumed: the stage goes on without the kiosk that failed, then every kiosk.
    assert "running at its percent stage" in _run("resume", "--db", sqlite_url)
    watch.round()
    resent = waiting - {failing}
    assert eventually(lambda: all(topics.last(key) not in (None, b"") for key in resent))
    assert topics.last(failing) == b""
    _runs(mosquitto, fleet, sorted(resent))
    watch.round()
    rest = set(FLEET) - picks
    assert eventually(lambda: all(topics.last(key) not in (None, b"") for key in rest))
    _runs(mosquitto, fleet, sorted(rest))
    watch.round()
    rollout = store.rollouts.current()
    assert rollout is not None and (rollout.stage, rollout.state) == (Stage.DONE, RolloutState.DONE)
    assert topics.last(failing) == b""
    assert "state: done" in _run("status", "--db", sqlite_url)


def test_staff_halt_a_rollout_it_is_taken_back_and_abandoned_for_another(
        mosquitto: Mosquitto, fleet: FleetView, store: ProfileStore, bundles: Path, sqlite_url: str) -> None:
    topics = SoftwareTopics(mosquitto.url)
    report(mosquitto.port, *CANARY)
    assert eventually(lambda: fleet.kiosk(*CANARY) is not None)
    fleet.recheck()
    fleet.recheck()
    watch = RolloutWatch(store.rollouts, fleet, bundles, soak_s=3600)
    _run("start", "1", "--dir", str(bundles), "--canary", "madrid-centro/kiosk-01", "--percent", "10",
         "--db", sqlite_url)
    watch.round()
    assert eventually(lambda: topics.last(CANARY) not in (None, b""))

    assert "halted at its canary stage" in _run("halt", "--reason", "shoppers' screens flicker", "--db", sqlite_url)
    watch.round()

    assert eventually(lambda: topics.last(CANARY) == b"")
    refused = CliRunner().invoke(main, ["hq", "rollout", "halt", "--db", sqlite_url])
    assert refused.exit_code == 1 and "is halted: nothing to halt" in refused.output
    assert "done at its canary stage" in _run("abandon", "--db", sqlite_url)
    assert "halted: shoppers' screens flicker" in _run("status", "--db", sqlite_url)
    _run("start", "1", "--dir", str(bundles), "--canary", "sevilla-nervion/kiosk-01", "--percent", "10",
         "--db", sqlite_url)
    unpublished = CliRunner().invoke(main, ["hq", "rollout", "start", "9", "--dir", str(bundles), "--canary",
                                            "madrid-centro/kiosk-01", "--percent", "10", "--db", sqlite_url])
    assert unpublished.exit_code == 1 and "no release 9 is published" in unpublished.output
    bad = CliRunner().invoke(main, ["hq", "rollout", "start", "1", "--dir", str(bundles), "--canary", "kiosk-01",
                                    "--percent", "10", "--db", sqlite_url])
    assert bad.exit_code == 1 and "name it as STORE/KIOSK" in bad.output
