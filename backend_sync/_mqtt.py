"""Broker URLs and the one paho connection every part of the product uses.

``MqttClient`` is how the kiosk's link and HQ's services (ingest, fleet view, profile
responder, one-shot publishes) talk to a broker: created, connected, subscribed,
reconnected and stopped the same way, so a fix to that sequence is made once.
"""

from __future__ import annotations

import enum
import logging
import random
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk_protocol import SyncError

log = logging.getLogger(__name__)

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


MessageHandler = Callable[[mqtt.MQTTMessage], None]


@dataclass(frozen=True)
class LastWill:
    """What the broker publishes (QoS 1) for a client that dies without disconnecting."""

    topic: str
    payload: bytes
    retain: bool = True  # a retained status: whoever subscribes later learns the client is gone


class MqttClient:
    """One connection to a broker, kept up in the background on paho's own thread.

    Logs in and checks TLS as the broker URL says, sets its last will before it connects,
    keeps its session at the broker for 7 days (a fresh one that ends with the connection
    when not ``persistent``), reconnects with jittered backoff, and subscribes to
    ``subscriptions`` (QoS 1) again on every connect, in case the broker lost the session.
    Every message goes out with QoS 1. Callbacks run on paho's thread:

    - ``on_connect()`` once each connection is up and its subscriptions are asked for;
    - ``on_disconnect()`` when a connection ends;
    - ``on_publish(mid)`` on each broker PUBACK;
    - ``handlers[filter](message)`` for messages matching a filter, ``on_message`` for the rest.

    With ``manual_ack`` a message stays unacknowledged until ``ack``: the broker
    redelivers whatever a client that stops had not acknowledged.
    """

    def __init__(self, broker: BrokerUrl, client_id: str, *, role: str, subscriptions: Sequence[str] = (),
                 handlers: Mapping[str, MessageHandler] | None = None, on_message: MessageHandler | None = None,
                 on_connect: Callable[[], None] | None = None, on_disconnect: Callable[[], None] | None = None,
                 on_publish: Callable[[int], None] | None = None, will: LastWill | None = None,
                 manual_ack: bool = False, persistent: bool = True, keepalive: int = 30) -> None:
        self.broker = broker
        self.subscribed = threading.Event()  # the broker has answered a subscription (first SUBACK)
        self._role, self._subscriptions = role, tuple(subscriptions)
        self._persistent, self._keepalive = persistent, keepalive
        self._connected = threading.Event()
        self._answered = threading.Event()  # by a CONNACK, accepting or refusing
        self.refusal: str | None = None  # why the broker refused the last attempt, if it did
        self._when_connected = on_connect or (lambda: None)
        self._when_disconnected = on_disconnect or (lambda: None)
        self._paho = new_client(broker, client_id, manual_ack=manual_ack, persistent=persistent)
        if will is not None:
            self._paho.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        self._on_publish = on_publish
        self._handlers = dict(handlers or {})
        self._on_message = on_message
        self._attach()

    def _attach(self) -> None:
        """Give paho this client's callbacks."""
        self._paho.on_connect = self._on_connect
        self._paho.on_disconnect = self._on_disconnect
        self._paho.on_subscribe = self._on_subscribe
        if (on_publish := self._on_publish) is not None:
            self._paho.on_publish = lambda client, userdata, mid, reason, properties: on_publish(mid)
        for topic_filter, handler in self._handlers.items():
            self._paho.message_callback_add(topic_filter, _paho_handler(handler))
        if self._on_message is not None:
            self._paho.on_message = _paho_handler(self._on_message)

    def _detach(self) -> None:
        """Take the callbacks back from paho: they held this client from its own paho client, a cycle
        only a full garbage collection frees, so a stopped client kept paho's wake-up socket pair
        open until one ran (never, once ``gc.freeze`` had taken it, see kiosk_app/_gc_pauses.py)."""
        self._paho.on_connect = self._paho.on_disconnect = self._paho.on_subscribe = None
        self._paho.on_publish = self._paho.on_message = None
        for topic_filter in self._handlers:
            self._paho.message_callback_remove(topic_filter)

    @property
    def connected(self) -> bool:
        """Whether a connection is up (its ``on_connect`` has run)."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background, retrying until ``stop``."""
        self._attach()  # again after a ``stop``
        connect_async(self._paho, self.broker, self._keepalive, persistent=self._persistent)
        self._paho.loop_start()

    def wait_until_connected(self, timeout_s: float) -> bool:
        """Block until the broker answers; False if it refused (see ``refusal``) or was silent for ``timeout_s``."""
        self._answered.wait(timeout_s)
        return self.connected

    def stop(self) -> None:
        """Disconnect cleanly (the broker drops the last will) and end paho's thread; once the client is
        let go, its sockets close at once."""
        self._paho.disconnect()
        self._paho.loop_stop()
        self._detach()

    def __enter__(self) -> MqttClient:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                properties: Mapping[str, Any] | None = None) -> mqtt.MQTTMessageInfo:
        """Queue one QoS 1 message; paho sends it now, or when it reconnects.

        Args:
            properties: MQTT 5 publish properties by paho's names (``ResponseTopic``,
                ``CorrelationData``, ``UserProperty``, ``MessageExpiryInterval``);
                dropped on an MQTT 3.1.1 broker, which has none.
        """
        return self._paho.publish(topic, payload, qos=1, retain=retain, properties=self._properties(properties))

    def publish_and_wait(self, topic: str, payload: bytes, *, retain: bool = False,
                         properties: Mapping[str, Any] | None = None, timeout_s: float = 10.0) -> None:
        """Publish one QoS 1 message now and wait for the broker's PUBACK.

        Raises:
            SyncError: not connected, or the broker did not acknowledge in time.
        """
        if not self._paho.is_connected():  # paho would keep it and send it whenever it reconnects
            raise SyncError(f"the broker at {self.broker} is out of reach")
        info = self.publish(topic, payload, retain=retain, properties=properties)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:  # paho: not connected, or the queue is full
            raise SyncError(f"the broker at {self.broker} is out of reach: {exc}") from exc
        if not info.is_published():
            raise SyncError(f"{self.broker} did not acknowledge the message on {topic}")

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message taken with ``manual_ack``: the broker forgets it."""
        self._paho.ack(mid, qos)

    def _properties(self, values: Mapping[str, Any] | None) -> Properties | None:
        if not values or self.broker.protocol is not Protocol.V5:
            return None
        properties = Properties(PacketTypes.PUBLISH)
        for name, value in values.items():
            setattr(properties, name, value)
        return properties

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.warning("broker %s refused %s: %s", self.broker, self._role, reason)
            self.refusal = str(reason)
            self._answered.set()
            return
        log.info("%s connected to %s", self._role, self.broker)
        if self._subscriptions:
            client.subscribe([(topic_filter, 1) for topic_filter in self._subscriptions])
        self._when_connected()
        self.refusal = None
        self._connected.set()
        self._answered.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._connected.clear()
        log.info("%s disconnected from %s: %s", self._role, self.broker, reason)
        self._when_disconnected()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        answers = zip(self._subscriptions, reasons, strict=False)  # one SUBACK answers all, in order
        refused = [f"{topic_filter} ({reason})" for topic_filter, reason in answers if reason.is_failure]
        if refused:  # the ACL's answer: the connection stays up for what it may do
            log.warning("broker %s refused %s the subscription to %s", self.broker, self._role, ", ".join(refused))
        else:
            log.info("%s subscribed to %s on %s", self._role, ", ".join(self._subscriptions), self.broker)
        self.subscribed.set()


def _paho_handler(handler: MessageHandler) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
    return lambda client, userdata, message: handler(message)


def publish_once(broker_url: str, topic: str, payload: bytes, *, retain: bool = False, client_id: str,
                 timeout_s: float = 10.0) -> None:
    """Connect, publish one QoS 1 message, wait for its PUBACK, and disconnect.

    For a command of its own (``kiosk hq erase-profile``, a catalog announce): it leaves no
    session behind. A process that already holds a connection publishes through it instead
    (``MqttClient.publish_and_wait``): a second connection with the same credentials would,
    on a broker that takes usernames as client ids, push the first one off.

    Raises:
        SyncError: the broker could not be reached or did not acknowledge in time.
    """
    broker = BrokerUrl.parse(broker_url)
    with MqttClient(broker, broker.username or client_id, role="a one-shot publisher", persistent=False) as client:
        if not client.wait_until_connected(timeout_s):
            raise SyncError(f"{broker} refused the login: {client.refusal}" if client.refusal
                            else f"could not reach {broker}")
        client.publish_and_wait(topic, payload, retain=retain, timeout_s=timeout_s)
