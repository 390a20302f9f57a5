"""A connected MQTT test client that records what it receives and how the broker answered
(its CONNACK, its SUBACKs), for the tests of the broker's TLS, logins and ACL."""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from backend_sync import BrokerUrl
from backend_sync._mqtt import connect_async, new_client


class Client:
    """A connected test client; records what it receives and how the broker answered."""

    def __init__(self, url: str, client_id: str) -> None:
        self.broker = BrokerUrl.parse(url)
        self.connack: list[object] = []
        self.received: list[tuple[str, bytes]] = []
        self.subacks: list[list[object]] = []
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.client = new_client(self.broker, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        connect_async(self.client, self.broker)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Any) -> None:
        self.connack.append(reason)
        if not reason.is_failure:
            self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received.append((message.topic, bytes(message.payload)))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[Any], properties: Any) -> None:
        self.subacks.append(reasons)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
