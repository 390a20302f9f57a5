"""The kiosk's MQTT link: drains the outbox with QoS 1, deleting a row only after the
broker's PUBACK, and keeps a retained online/offline status with a last will.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt

from backend_sync._mqtt import BrokerUrl, connect_async, new_client
from backend_sync._outbox import Outbox
from backend_sync.contract import kiosk_topics

log = logging.getLogger(__name__)

_MAX_IN_FLIGHT = 20
_RECONNECTED = -1  # marker on the ack queue: the session restarted, resend what is unacked


class KioskLink:
    """Publishes a kiosk's outbox to the broker at ``broker_url``."""

    def __init__(self, broker_url: str, store: str, kiosk: str, outbox: Outbox) -> None:
        self.broker = BrokerUrl.parse(broker_url)
        self.outbox = outbox
        self._status_topic = kiosk_topics(store, kiosk).status
        self._client = new_client(self.broker, self.broker.username or f"{store}.{kiosk}")
        self._client.will_set(self._status_topic, self._status("offline"), qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="kiosk-link", daemon=True)

    @property
    def connected(self) -> bool:
        """Whether the broker session is up."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect (retrying in the background) and start draining the outbox."""
        connect_async(self._client, self.broker)
        self._client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        """Say offline, disconnect, and stop; unacknowledged rows stay in the outbox."""
        self._stop.set()
        self._thread.join(3)
        if self.connected:
            self._client.publish(self._status_topic, self._status("offline"), qos=1, retain=True).wait_for_publish(2)
        self._client.disconnect()
        self._client.loop_stop()

    def _drain(self) -> None:
        in_flight: dict[int, int] = {}  # paho mid -> outbox seq; touched by this thread only
        last_sent = 0
        while not self._stop.is_set():
            while not self._acks.empty():
                mid = self._acks.get()
                if mid == _RECONNECTED:
                    in_flight.clear()
                    last_sent = 0
                elif (seq := in_flight.pop(mid, None)) is not None:
                    self.outbox.acknowledge(seq)
            if self.connected and len(in_flight) < _MAX_IN_FLIGHT:
                for message in self.outbox.pending(after_seq=last_sent, limit=_MAX_IN_FLIGHT - len(in_flight)):
                    info = self._client.publish(message.topic, message.payload, qos=1)
                    if info.rc != mqtt.MQTT_ERR_SUCCESS:
                        break  # connection dropped; resent after reconnect
                    in_flight[info.mid] = message.seq
                    last_sent = message.seq
            self.outbox.wait_for_change(0.2)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the kiosk: %s", self.broker, reason)
            return
        log.info("connected to %s", self.broker)
        self._acks.put(_RECONNECTED)
        client.publish(self._status_topic, self._status("online"), qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected.clear()
        log.info("disconnected from %s: %s", self.broker, reason)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._acks.put(mid)
        self.outbox.wake()

    def _status(self, state: str) -> bytes:
        return json.dumps({"v": 1, "state": state}).encode()
