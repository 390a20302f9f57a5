"""A virtual X screen (Xvfb) of the kiosk's size, for the Kivy window."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """Start Xvfb on a display it picks itself; returns the process and its DISPLAY."""
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        return process, f":{pipe.readline().strip()}"


@contextmanager
def virtual_display() -> Iterator[str]:
    """A running Xvfb with DISPLAY pointing at it; both are put back afterwards."""
    process, display = start_xvfb()
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        process.terminate()
        process.wait(10)
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
