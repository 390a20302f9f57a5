"""Broker URLs and paho clients configured the same way for every part."""

from __future__ import annotations

import enum
import random
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk_protocol import SyncError

# How long the broker keeps a disconnected client's session and queued messages.
SESSION_EXPIRY_S = 7 * 24 * 3600


class Protocol(enum.Enum):
    """MQTT versions a broker may speak."""

    V5 = "5"
    V311 = "3.1.1"


@dataclass(frozen=True)
class BrokerUrl:
    """Where a broker listens, how to log in, and which MQTT it speaks.

    ``mqtt://host:port`` (plain, for a broker on the same machine) or
    ``mqtts://user:password@host:port?ca=/path/ca.crt`` (TLS, checked against the
    store's CA); ``?protocol=3.1.1`` for brokers without MQTT 5, such as the embedded
    demo broker. MQTT 5 is the default (Mosquitto, EMQX, HiveMQ).
    """

    host: str
    port: int
    protocol: Protocol = Protocol.V5
    tls: bool = False
    ca: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """Parse a broker URL.

        Raises:
            SyncError: not an mqtt:// or mqtts:// URL, or an unknown protocol.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise SyncError("not a broker URL (mqtt://host:port or mqtts://user:password@host:port)")
        query = parse_qs(parts.query)
        try:
            protocol = Protocol(query.get("protocol", ["5"])[0])
        except ValueError as exc:
            raise SyncError("unknown MQTT protocol in broker URL (5 or 3.1.1)") from exc
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), protocol, tls, query.get("ca", [None])[0],
                   parts.username, parts.password)

    def __str__(self) -> str:
        """The URL without its password, for logs."""
        user = f"{self.username}@" if self.username else ""
        query = "" if self.protocol is Protocol.V5 else f"?protocol={self.protocol.value}"
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}{query}"


def new_client(broker: BrokerUrl, client_id: str, *, manual_ack: bool = False, persistent: bool = True) -> mqtt.Client:
    """A paho client that keeps its session at the broker (unless not ``persistent``) and
    reconnects with jittered backoff."""
    v5 = broker.protocol is Protocol.V5
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else not persistent,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    # paho doubles the delay from min to max; a random start keeps a fleet that lost its
    # broker together from reconnecting in lockstep.
    client.reconnect_delay_set(min_delay=random.randint(1, 4), max_delay=30)
    client.on_socket_open = _no_delay
    if broker.tls:
        client.tls_set(ca_certs=broker.ca)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    return client


def _no_delay(client: mqtt.Client, userdata: object, sock: object) -> None:
    """Small QoS 1 packets and their acks must not wait for Nagle's algorithm (up to 40 ms)."""
    if isinstance(sock, socket.socket):  # also true of a TLS socket
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect_async(client: mqtt.Client, broker: BrokerUrl, keepalive: int = 30, *, persistent: bool = True) -> None:
    """Start connecting in the background, resuming the session the broker kept (a fresh
    session that ends with the connection when not ``persistent``)."""
    if broker.protocol is Protocol.V5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_S if persistent else 0
        client.connect_async(broker.host, broker.port, keepalive=keepalive, clean_start=not persistent,
                             properties=properties)
    else:
        client.connect_async(broker.host, broker.port, keepalive=keepalive)


def publish_and_wait(client: mqtt.Client, broker: BrokerUrl, topic: str, payload: bytes, *, retain: bool = False,
                     properties: Properties | None = None, timeout_s: float = 10.0) -> None:
    """Publish one QoS 1 message on a connected client and wait for the broker's PUBACK.

    Raises:
        SyncError: the client is not connected, or the broker did not acknowledge in time.
    """
    if not client.is_connected():  # paho would keep it and send it whenever it reconnects
        raise SyncError(f"the broker at {broker} is out of reach")
    info = client.publish(topic, payload, qos=1, retain=retain, properties=properties)
    try:
        info.wait_for_publish(timeout_s)
    except (RuntimeError, ValueError) as exc:  # paho: not connected, or the queue is full
        raise SyncError(f"the broker at {broker} is out of reach: {exc}") from exc
    if not info.is_published():
        raise SyncError(f"{broker} did not acknowledge the message on {topic}")


def publish_once(broker_url: str, topic: str, payload: bytes, *, retain: bool = False, client_id: str,
                 timeout_s: float = 10.0) -> None:
    """Connect, publish one QoS 1 message, wait for its PUBACK, and disconnect.

    For a command of its own (``kiosk hq erase-profile``, a catalog announce): it leaves no
    session behind. A process that already holds a connection publishes through it instead
    (``publish_and_wait``): a second connection with the same credentials would, on a broker
    that takes usernames as client ids, push the first one off.

    Raises:
        SyncError: the broker could not be reached or did not acknowledge in time.
    """
    broker = BrokerUrl.parse(broker_url)
    client = new_client(broker, broker.username or client_id, persistent=False)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    connect_async(client, broker, persistent=False)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise SyncError(f"could not reach {broker}")
        publish_and_wait(client, broker, topic, payload, retain=retain, timeout_s=timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
