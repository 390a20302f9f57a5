"""HQ's file server: serves published bundles over HTTP, with Range requests so a
kiosk can resume an interrupted download."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles


def file_app(directory: Path) -> Starlette:
    """An ASGI app serving ``directory`` read-only."""
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=directory), name="files")])


class FileServer:
    """The file server on its own thread (for the demo, tests and benchmarks)."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 8080,
                 app: Starlette | None = None) -> None:
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(app or file_app(directory), host=host, port=port, log_level="warning",
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="hq-files", daemon=True)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("file server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(10)
