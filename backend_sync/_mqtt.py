"""Broker URLs and paho clients configured the same way for every part."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from backend_sync.exceptions import SyncError


@dataclass(frozen=True)
class BrokerUrl:
    """Where a broker listens: ``mqtt://host:port``."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """Parse ``mqtt://host[:port]``.

        Raises:
            SyncError: not an mqtt:// URL.
        """
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise SyncError(f"not a broker URL (mqtt://host:port): {url!r}")
        return cls(parts.hostname, parts.port or 1883)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def new_client(client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A paho client that keeps its session at the broker and reconnects with backoff."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client
