"""A real Mosquitto broker on a free port, with a config its owner writes."""

from __future__ import annotations

import getpass
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from kiosk_app.demo import free_port
from testkit.waiting import wait_for_port


class Mosquitto:
    """A real Mosquitto broker owned by one test or benchmark; it can be stopped and restarted.

    ``listener`` replaces the default plain, anonymous listener (e.g. with a TLS one).
    """

    def __init__(self, workdir: Path, listener: Callable[[int], str] | None = None) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.config = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        listen = listener(self.port) if listener else f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        self.config.write_text(
            listen
            + f"user {getpass.getuser()}\n"  # as root it would drop to 'mosquitto' and lose its persistence dir
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        with self.log.open("ab") as log:  # who connected as whom, for a failing test to be read by
            self._process = subprocess.Popen([self.binary, "-c", str(self.config)], stderr=log)
        wait_for_port(self.port)

    def reload(self) -> None:
        """SIGHUP: the broker reads its password file and ACL again, as `systemctl reload mosquitto` has it do."""
        assert self._process is not None and self._process.poll() is None
        self._process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """Stop the broker (it saves its persistent state)."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)

    def kill(self) -> None:
        """Kill the broker with SIGKILL: whatever it had not saved is gone."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
