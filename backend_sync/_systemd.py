"""A service's word to systemd (the ``sd_notify`` protocol): ready once it serves, alive for
as long as its main loop turns, stopping when it closes. HQ's ``kiosk hq serve`` says ready;
the kiosk also pings the watchdog.

The kiosk's unit (``deploy/kiosk/kiosk.service``) is ``Type=notify`` with ``WatchdogSec``:
when the pings stop, systemd restarts the kiosk, so a frozen window comes back on its own.
The pings are sent from the window's own loop (Kivy's clock) and never from a thread of
their own, which would go on pinging while the window hung.

The protocol is one datagram a message to the socket systemd names in ``NOTIFY_SOCKET``; the
kiosk runs under a compositor (cage), which is the unit's main process, so the unit takes
its messages with ``NotifyAccess=all`` and ``WATCHDOG_PID`` (cage's) is not compared with
the kiosk's own. Without ``NOTIFY_SOCKET`` (a kiosk not started by systemd) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Tells systemd how the service is, when systemd started it; else does nothing."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace, which Linux spells with a NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        interval_us = environ.get("WATCHDOG_USEC", "")
        # Pinged twice a period, as sd_watchdog_enabled advises: one late ping is not a restart.
        self.watchdog_interval_s = int(interval_us) / 2e6 if interval_us.isdigit() and int(interval_us) else None
        self._socket: socket.socket | None = None
        self._failing = False

    @property
    def enabled(self) -> bool:
        """Whether systemd listens."""
        return bool(self._address)

    def ready(self, status: str) -> None:
        """The service is up (the kiosk's window, HQ's API): the unit has started."""
        self._send("READY=1", f"STATUS={status}")

    def alive(self) -> None:
        """One watchdog ping: the main loop has turned."""
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, *fields: str) -> None:
        if not self._address:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(fields).encode(), self._address)
            self._failing = False
        except OSError as exc:  # systemd restarting, or a socket gone: the next ping tries again
            if not self._failing:
                log.warning("systemd's notify socket %s refused a message: %s", self._address.lstrip("\0"), exc)
            self._failing = True
