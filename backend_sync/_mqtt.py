"""Broker URLs and paho clients configured the same way for every part."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from backend_sync.exceptions import SyncError

# How long the broker keeps a disconnected client's session and queued messages.
SESSION_EXPIRY_S = 7 * 24 * 3600


class Protocol(enum.Enum):
    """MQTT versions a broker may speak."""

    V5 = "5"
    V311 = "3.1.1"


@dataclass(frozen=True)
class BrokerUrl:
    """Where a broker listens and which MQTT it speaks: ``mqtt://host:port[?protocol=3.1.1]``.

    MQTT 5 is the default (Mosquitto, EMQX, HiveMQ); 3.1.1 is for brokers without it,
    such as the embedded demo broker.
    """

    host: str
    port: int
    protocol: Protocol = Protocol.V5

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """Parse a broker URL.

        Raises:
            SyncError: not an mqtt:// URL, or an unknown protocol.
        """
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise SyncError(f"not a broker URL (mqtt://host:port): {url!r}")
        try:
            protocol = Protocol(parse_qs(parts.query).get("protocol", ["5"])[0])
        except ValueError as exc:
            raise SyncError(f"unknown MQTT protocol in {url!r} (5 or 3.1.1)") from exc
        return cls(parts.hostname, parts.port or 1883, protocol)

    def __str__(self) -> str:
        query = "" if self.protocol is Protocol.V5 else f"?protocol={self.protocol.value}"
        return f"mqtt://{self.host}:{self.port}{query}"


def new_client(broker: BrokerUrl, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client that keeps its session at the broker and reconnects with jittered backoff."""
    v5 = broker.protocol is Protocol.V5
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else False,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    # paho doubles the delay from min to max; a random start keeps a fleet that lost its
    # broker together from reconnecting in lockstep.
    client.reconnect_delay_set(min_delay=random.randint(1, 4), max_delay=30)
    return client


def connect_async(client: mqtt.Client, broker: BrokerUrl, keepalive: int = 30) -> None:
    """Start connecting in the background, resuming the session the broker kept."""
    if broker.protocol is Protocol.V5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S
        client.connect_async(broker.host, broker.port, keepalive=keepalive, clean_start=False, properties=properties)
    else:
        client.connect_async(broker.host, broker.port, keepalive=keepalive)
