"""HQ's HTTP server: uvicorn serving the profile API and the dashboard on its own thread."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp


class ApiServer:
    """Serves an ASGI app (``create_app``'s) on ``host:port`` from a background thread."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.url = f"http://{host}:{port}"
        # Open dashboard streams end when the FleetView stops; the grace period bounds the rest.
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=3, proxy_headers=True)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="hq-api", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections.

        Raises:
            TimeoutError: the server did not start (the port may be taken).
        """
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise TimeoutError(f"the HQ API did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(10)
