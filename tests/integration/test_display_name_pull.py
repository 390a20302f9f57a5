"""The name a shopper is greeted by travels with their profile over a real Mosquitto: to
a kiosk that reads version 2, into its cache and out again with an erase; a kiosk from
before display names asks in version 1 and gets exactly version 1's answer."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore, tell_fleet_to_forget
from kiosk_app import KioskConfig, KioskRuntime
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import PROFILE_VERSION, EventKind, Hlc, Role, issue_token, kiosk_topics, new_event, wall_clock_ms
from kiosk_protocol._cards import card_verifier
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

SHOPPER, ODD_SHOPPER, NAME = "shopper-0042", "shopper-0043", "Lucía"
# Every field of a version 1 answer: a kiosk of version 1 refuses any other.
VERSION_1_FIELDS = {"v", "request_id", "shopper", "error", "consent", "recent_skus", "wishlist", "preferences"}


class NamedProfiles(ProfileStore):
    """HQ's store holding display names (``display_name_of`` is where HQ's names come from)."""

    def display_name_of(self, shopper: str) -> str | None:
        given = {SHOPPER: NAME, ODD_SHOPPER: "Ana\nMaría"}  # the second would not show as written
        return given[shopper] if shopper in given else super().display_name_of(shopper)


@pytest.fixture
def responder(mosquitto: Mosquitto, sqlite_url: str,
              hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[ProfileResponder]:
    store = NamedProfiles(sqlite_url)
    store.record(new_event(kind=EventKind.PRODUCT_VIEW, store="web", kiosk="web-shop", seq=1, session=uuid.uuid4(),
                           shopper=SHOPPER, sku="COAT-WOOL-GRY"))
    responder = ProfileResponder(mosquitto.url, store, card_verifier(hq_key[0].public_key()))
    responder.start()
    assert responder.subscribed.wait(10)
    yield responder
    responder.stop()
    store.close()


@pytest.fixture
def runtime(mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> Iterator[KioskRuntime]:
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(),
                         reader="udp:127.0.0.1:9", broker=mosquitto.url, data_dir=tmp_path / "kiosk",
                         hq_public_key=hq_key[1])
    runtime = KioskRuntime(config, on_outcome=lambda outcome: None)
    runtime.link.start()  # no reader needed here
    assert eventually(lambda: runtime.link.connected, 10)
    yield runtime
    runtime.link.stop()


def test_the_display_name_reaches_the_kiosk_its_cache_and_leaves_with_an_erase(
        mosquitto: Mosquitto, responder: ProfileResponder, runtime: KioskRuntime,
        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    profile = runtime.fetch_profile(SHOPPER, issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60))
    assert profile is not None and (profile.display_name, profile.response.v) == (NAME, PROFILE_VERSION)
    cached = runtime.profiles.get(SHOPPER)
    assert cached is not None and cached.display_name == NAME
    tell_fleet_to_forget(mosquitto.url, SHOPPER)
    assert eventually(lambda: runtime.profiles.get(SHOPPER) is None, 10)  # the name went with the rest


def test_a_name_a_kiosk_could_not_show_as_written_is_left_out_of_the_answer(
        responder: ProfileResponder, runtime: KioskRuntime, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    profile = runtime.fetch_profile(ODD_SHOPPER, issue_token(hq_key[0], ODD_SHOPPER, Role.SHOPPER, 60))
    assert profile is not None and profile.display_name is None
    assert (responder.stats.answered, responder.stats.names_left_out) == (1, 1)


def test_a_kiosk_from_before_display_names_gets_version_1_s_answer(
        mosquitto: Mosquitto, responder: ProfileResponder, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    topics = kiosk_topics("madrid-centro", "kiosk-09")
    subscribed, answers = threading.Event(), list[dict[str, object]]()
    old_kiosk = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="madrid-centro.kiosk-09")
    old_kiosk.on_subscribe = lambda *_args: subscribed.set()
    old_kiosk.on_message = lambda _client, _userdata, message: answers.append(json.loads(message.payload))
    old_kiosk.connect("127.0.0.1", mosquitto.port)
    old_kiosk.subscribe(topics.profile_response, qos=1)
    old_kiosk.loop_start()
    try:
        assert subscribed.wait(10)
        request = {"v": 1, "request_id": str(uuid.uuid4()), "shopper": SHOPPER,
                   "token": issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60)}
        old_kiosk.publish(topics.profile_request, json.dumps(request), qos=1)
        assert eventually(lambda: bool(answers), 10)
    finally:
        old_kiosk.loop_stop()
        old_kiosk.disconnect()
    [answer] = answers
    assert set(answer) == VERSION_1_FIELDS and answer["v"] == 1  # no display name, not even as null
    assert answer["recent_skus"] == ["COAT-WOOL-GRY"] and answer["error"] is None


def test_a_name_set_by_another_channel_is_in_the_next_answer(
        responder: ProfileResponder, runtime: KioskRuntime, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    shopper = "shopper-0044"
    stamp = Hlc(wall_clock_ms(), 0, "app")
    responder.store.record(new_event(kind=EventKind.DISPLAY_NAME, store="app", kiosk="app",
                                     seq=1, session=uuid.uuid4(), shopper=shopper, display_name="Íñigo",
                                     hlc=str(stamp)))
    profile = runtime.fetch_profile(shopper, issue_token(hq_key[0], shopper, Role.SHOPPER, 60))
    assert profile is not None and profile.display_name == "Íñigo"
