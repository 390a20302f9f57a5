"""Waiting on the event asserted, never on a fixed sleep: a condition in a thread's world or
on an event loop, and a port that starts to accept connections."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable


def eventually(condition: Callable[[], bool], timeout_s: float = 30.0, poll_s: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or the time is up; returns its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait on the event loop until ``condition`` holds; TimeoutError when it does not in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    """Block until something accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")
