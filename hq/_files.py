"""HQ's file server: serves published bundles over HTTP, with Range requests so a
kiosk can resume an interrupted download."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from hq._http import HttpLimits, ThreadedServer


def file_app(directory: Path) -> Starlette:
    """An ASGI app serving ``directory`` read-only."""
    return Starlette(routes=[Mount("/", app=StaticFiles(directory=directory), name="files")])


class FileServer(ThreadedServer):
    """The file server on its own thread, within ``HttpLimits`` like every HQ server."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 8080,
                 app: Starlette | None = None, limits: HttpLimits | None = None) -> None:
        super().__init__(app or file_app(directory), host, port, "hq-files", limits)
