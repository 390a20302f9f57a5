"""The embedded MQTT broker: the zero-setup default of the demo, not for a store.

Stores run Mosquitto; this one runs amqtt in-process so that ``kiosk demo`` needs
nothing installed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` running on its own thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.url = f"mqtt://{host}:{port}?protocol=3.1.1"  # amqtt does not speak MQTT 5
        self._config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._loop = asyncio.new_event_loop()
        self._broker: Broker | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-broker", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start listening; returns once the broker accepts connections."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout_s)
        log.info("embedded broker listening on %s", self.url)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every connection and stop."""
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)

    async def _start(self) -> None:
        self._broker = Broker(self._config)
        await self._broker.start()
