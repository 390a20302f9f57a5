"""A stopped MQTT client gives its descriptors back as soon as it is let go, with no garbage
collection: a one-shot publish (a catalog announced from the demo's or a benchmark's own
process) left paho's wake-up socket pair open for as long as no full collection ran, and for
good once a catalog update's ``gc.freeze`` had taken it."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

from backend_sync import BrokerUrl, MqttClient, publish_once
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def no_collections() -> Iterator[None]:
    """Nothing is freed but by its last reference going (as between a catalog update's freezes)."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_one_shot_publishes_leave_no_descriptor_open(mosquitto: Mosquitto, no_collections: None) -> None:
    publish_once(mosquitto.url, "kiosk/test/warm-up", b"first", client_id="warm-up")  # paho's own first-use state
    before = open_descriptors()
    for n in range(5):
        publish_once(mosquitto.url, "kiosk/test/announce", b"manifest", client_id=f"one-shot-{n}")
    assert open_descriptors() == before


def test_a_client_started_again_after_a_stop_still_hears_its_messages(mosquitto: Mosquitto) -> None:
    heard: list[bytes] = []
    client = MqttClient(BrokerUrl.parse(mosquitto.url), "restarted", role="a test client",
                        subscriptions=["kiosk/test/#"], handlers={"kiosk/test/#": lambda m: heard.append(m.payload)},
                        persistent=False)
    client.start()
    assert client.wait_until_connected(10)
    client.stop()
    assert not client.connected
    client.subscribed.clear()
    client.start()
    assert eventually(lambda: client.connected, 10) and client.subscribed.wait(10)
    try:
        client.publish_and_wait("kiosk/test/again", b"after the restart")
        assert eventually(lambda: heard == [b"after the restart"])
    finally:
        client.stop()
