"""The kiosk under systemd's watchdog: the real window under Xvfb tells a stand-in for
systemd's notify socket it is ready, pings from its window's loop, stops pinging while that
loop is frozen (so systemd would restart it) and says when it stops."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import SystemdNotifier
from kiosk_app.demo import free_port
from nfc_reader import TagEmulator
from testkit.kivy_window import run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.notify_socket import NotifySocket
from testkit.waiting import until
from tests.integration.kiosk_window_steps import kiosk_config

WATCHDOG_USEC = 400_000  # the kiosk pings every 0.2 s


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
    yield listener
    listener.close()


def test_the_window_says_ready_pings_from_its_loop_and_says_it_stops(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
    notify_socket: NotifySocket,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    seen: dict[str, Any] = {}

    def ready() -> bool:
        notify_socket.drain()
        return any(message.startswith("READY=1") for message in notify_socket.messages)

    def pings() -> int:
        return notify_socket.drain().count("WATCHDOG=1")

    async def two_more_pings() -> None:
        counted = 0

        def two_more() -> bool:
            nonlocal counted
            counted += pings()
            return counted >= 2

        await until(two_more)

    async def scenario(app: Any) -> None:
        await until(ready)
        seen["ready"] = next(m for m in notify_socket.messages if m.startswith("READY=1"))
        await two_more_pings()
        pings()
        # The window's loop hangs for five ping intervals (this blocks it: it is the hang, not a
        # wait). A ping sent from anywhere but the loop would arrive meanwhile.
        time.sleep(5 * WATCHDOG_USEC / 2e6)
        seen["while_frozen"] = pings()
        await two_more_pings()  # the loop turning again, they come back

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    assert seen["ready"] == "READY=1\nSTATUS=showing madrid-centro · kiosk-01"
    assert seen["while_frozen"] == 0
    assert notify_socket.drain()[-1:] == ["STOPPING=1"]


def test_without_systemd_nothing_is_sent_and_a_gone_socket_loses_nothing_but_pings(tmp_path: Path) -> None:
    assert not SystemdNotifier({}).enabled
    assert SystemdNotifier({"WATCHDOG_USEC": "0"}).watchdog_interval_s is None
    SystemdNotifier({}).ready("showing")  # no socket: nothing to send to, and no error

    listener = NotifySocket(tmp_path / "notify")
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "30000000"})
    assert notifier.watchdog_interval_s == 15.0
    notifier.alive()
    assert listener.drain() == ["WATCHDOG=1"]
    listener.close()
    listener.path.unlink()
    notifier.alive()  # systemd gone away (restarting): logged once, the kiosk goes on
    notifier.alive()
    again = NotifySocket(tmp_path / "notify")
    notifier.alive()
    assert again.drain() == ["WATCHDOG=1"]
    again.close()
