"""Kiosks' retained statuses, published as their links publish them, for the fleet view's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from kiosk_protocol import KioskStatus, LinkState


def _retained(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def report(port: int, store: str, kiosk: str, state: LinkState = LinkState.ONLINE, reader: str = "online",
           **fields: Any) -> None:
    """A kiosk's status, retained on its topic (``fields``: the rest of ``KioskStatus``)."""
    status = KioskStatus(state=state, store=store, kiosk=kiosk, app_version="1.4.0", reader=reader,
                         at=datetime.now(UTC), **fields)
    _retained(port, f"kiosk/{store}/{kiosk}/status", status.model_dump_json().encode())


def leave(port: int, store: str, kiosk: str) -> None:
    """The kiosk's retained status deleted: it left the fleet."""
    _retained(port, f"kiosk/{store}/{kiosk}/status", b"")
