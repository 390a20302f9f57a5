"""HQ's HTTP servers: uvicorn on its own thread, with limits on what a connection may hold.

uvicorn waits for a request head as long as a client likes, and its ``limit_concurrency``
only answers 503 to requests past the limit: connections that never finish their head
are still accepted and kept. So every HQ server speaks HTTP through ``GuardedHttpProtocol``
(uvicorn's httptools protocol, whose parser is C: h11's pure Python parsing was a tenth of
what a request cost HQ), on uvloop:

- a connection past ``max_connections`` gets a 503 and is closed as soon as it is accepted
  (connections still queued in the kernel's ``backlog`` hold no descriptor of HQ's);
- a request head must be complete ``header_timeout_s`` after the connection opened or the
  previous answer was sent, and a request body ``body_timeout_s`` after its head: else
  the connection gets a 408 and is closed.

An answer being sent is never timed, so a long-lived stream (the dashboard's Server-Sent
Events) stays open; it counts towards ``max_connections`` like any connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    """What one client connection may hold of an HQ server."""

    max_connections: int = 512
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    backlog: int = 128  # connections the kernel queues before HQ accepts them


@dataclass
class ConnectionStats:
    """Connections an HQ server closed on a client for breaking its limits."""

    refused: int = 0  # past max_connections
    header_timeouts: int = 0
    body_timeouts: int = 0


def _plain_answer(status: int, reason: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a connection cap and request read timeouts.

    Each server makes its own subclass (``guarded_protocol``) holding its limits and stats.
    """

    limits: ClassVar[HttpLimits] = HttpLimits()
    stats: ClassVar[ConnectionStats] = ConnectionStats()
    _deadline: asyncio.TimerHandle | None = None
    _waiting_for = ""  # what the deadline is for: "head", "body" or nothing

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.stats.refused += 1
            log.warning("refused a connection from %s: %d connections open, the limit is %d",
                        self._peer(), len(self.connections) - 1, self.limits.max_connections)
            transport.write(_plain_answer(503, "Service Unavailable", "too many connections; retry shortly\n"))
            transport.close()
            return
        self._await_head()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        self._follow(cycle)

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if not self.transport.is_closing():
            if self.cycle is cycle:  # no pipelined request is waiting: the next head starts now
                self._await_head()
            else:
                self._follow(cycle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow(self, previous_cycle: object) -> None:
        """Re-arm the deadline for what the client still owes: a head, a body, or nothing."""
        if self.transport.is_closing():
            return
        if self.cycle is not previous_cycle:  # a new request head has just been read
            if self.cycle.more_body:
                self._arm(self.limits.body_timeout_s, "body")
            else:
                self._disarm()
        elif self._waiting_for == "body" and not self.cycle.more_body:
            self._disarm()

    def _await_head(self) -> None:
        self._arm(self.limits.header_timeout_s, "head")

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._time_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._waiting_for = ""

    def _time_out(self) -> None:
        what, self._deadline = self._waiting_for, None
        if self.transport.is_closing():
            return
        seconds = self.limits.header_timeout_s if what == "head" else self.limits.body_timeout_s
        if what == "head":
            self.stats.header_timeouts += 1
        else:
            self.stats.body_timeouts += 1
        log.warning("closed a connection from %s: its request %s was not complete within %gs",
                    self._peer(), what, seconds)
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_plain_answer(408, "Request Timeout",
                                               f"the request {what} did not arrive within {seconds:g}s\n"))
        self.transport.close()

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "an unknown address"


def guarded_protocol(limits: HttpLimits, stats: ConnectionStats) -> type[GuardedHttpProtocol]:
    """A protocol class for one server, with its own limits and counters."""
    return type("ServerHttpProtocol", (GuardedHttpProtocol,), {"limits": limits, "stats": stats})


class ThreadedServer:
    """An ASGI app on uvicorn, served from a background thread within ``HttpLimits``."""

    def __init__(self, app: ASGIApp, host: str, port: int, name: str, limits: HttpLimits | None = None,
                 **uvicorn_options: object) -> None:
        self.url = f"http://{host}:{port}"
        self.limits = limits or HttpLimits()
        self.stats = ConnectionStats()
        self._name = name
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                http=guarded_protocol(self.limits, self.stats), loop="uvloop",
                                backlog=self.limits.backlog,
                                timeout_keep_alive=max(1, min(5, int(self.limits.header_timeout_s))),
                                **uvicorn_options)  # type: ignore[arg-type]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections.

        Raises:
            TimeoutError: the server did not start (the port may be taken).
        """
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise TimeoutError(f"the {self._name} server did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(10)


class ApiServer(ThreadedServer):
    """Serves HQ's app (``create_app``'s) on ``host:port`` from a background thread."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8000,
                 limits: HttpLimits | None = None, tls: tuple[Path, Path] | None = None) -> None:
        """``tls``: the certificate (chain) and key files to serve HTTPS with, where no proxy does."""
        # Open dashboard and change streams end when the FleetView and the change feed stop (the
        # app's state.changes.close); the grace period bounds the rest.
        certificate = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
        super().__init__(app, host, port, "hq-api", limits, timeout_graceful_shutdown=3, proxy_headers=True,
                         **certificate)
        if tls:
            self.url = f"https://{host}:{port}"
