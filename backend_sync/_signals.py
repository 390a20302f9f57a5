"""Stopping on the operator's word: SIGINT (Ctrl-C) or SIGTERM."""

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in _STOP_SIGNALS:
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@contextmanager
def calling_on_signal(callback: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call ``callback`` instead of raising KeyboardInterrupt.

    A window stops through its own stop path this way: a KeyboardInterrupt raised inside
    one of Kivy's callbacks can be swallowed there, and the window then runs on.
    """
    previous = {sig: signal.signal(sig, lambda *_: callback()) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
