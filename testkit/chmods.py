"""Every chmod/fchmod the process makes, from Python's audit hooks: a real record, no stub."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class ChmodRecorder:
    """Every chmod/fchmod the process makes while recording.

    A file found 0600 under umask 0 with no chmod on the way was created 0600: at no
    moment could anyone else read it.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[object, int]] = []
        self.recording = False

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        if self.recording and event == "os.chmod":
            self.calls.append((args[0], int(args[1])))  # type: ignore[call-overload]


_CHMODS = ChmodRecorder()
sys.addaudithook(_CHMODS.hook)  # hooks cannot be removed: it records only inside ``chmods_under_umask_0``


@contextmanager
def chmods_under_umask_0() -> Iterator[ChmodRecorder]:
    """umask 0 (a file made wide stays wide) and a record of every chmod meanwhile."""
    previous = os.umask(0)
    _CHMODS.calls.clear()
    _CHMODS.recording = True
    try:
        yield _CHMODS
    finally:
        _CHMODS.recording = False
        os.umask(previous)
