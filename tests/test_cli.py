"""The `kiosk` command as a person runs it: the demo headless and in windows, and the
NFC emulator."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ImageGrab

from backend_sync.hq import ProfileStore
from kiosk_app.demo import free_port
from nfc_reader import TagKind, TagRead, TagReader
from tests.conftest import Mosquitto

KIOSK = [sys.executable, "-m", "kiosk_app"]
# Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/demo.png from this run.
SCREENSHOTS = Path(__file__).parent.parent / "docs" / "screenshots"


def test_headless_demo_taps_products_and_hq_stores_every_event() -> None:
    result = subprocess.run([*KIOSK, "demo", "--headless", "--taps", "3"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    taps = [line for line in result.stdout.splitlines() if line.startswith("tap ")]
    assert len(taps) == 3 and all(line.endswith("HQ stored event: yes") for line in taps)
    assert "3/3 taps shown and stored at HQ" in result.stdout


def test_headless_demo_runs_against_a_real_mosquitto(mosquitto: Mosquitto) -> None:
    result = subprocess.run([*KIOSK, "demo", "--headless", "--taps", "2", "--broker", mosquitto.url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2/2 taps shown and stored at HQ" in result.stdout


def test_emulate_command_is_read_by_a_reader(tmp_path: Path) -> None:
    device = f"udp:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    reads: queue.Queue[TagRead] = queue.Queue()
    reader = TagReader(device, reads.put)
    reader.start()
    try:
        result = subprocess.run([*KIOSK, "nfc", "emulate", "--sku", "BOOT-CHELSEA-BLK", "--device", device],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        read = reads.get(timeout=5)
        assert (read.kind, read.sku) == (TagKind.PRODUCT, "BOOT-CHELSEA-BLK")
    finally:
        reader.stop()


def test_emulate_command_rejects_bad_arguments() -> None:
    both = subprocess.run([*KIOSK, "nfc", "emulate", "--sku", "A", "--card", "B"], capture_output=True, text=True)
    assert both.returncode == 2 and "exactly one of" in both.stderr
    bad_device = subprocess.run([*KIOSK, "nfc", "emulate", "--sku", "A", "--device", "usb"], capture_output=True,
                                text=True)
    assert bad_device.returncode == 2 and "udp:HOST:PORT" in bad_device.stderr


@pytest.fixture
def wide_screen() -> Iterator[str]:
    """A screen wide enough for the kiosk window and the simulator side by side."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1720x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        yield f":{pipe.readline().strip()}"
    xvfb.terminate()
    xvfb.wait(10)


def _window_id(display: str, title: str, timeout_s: float = 40.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True,
                              env={**os.environ, "DISPLAY": display}).stdout
        for line in tree.splitlines():
            if f'"{title}":' in line:
                return line.split()[0]
        time.sleep(0.2)
    raise TimeoutError(f"no window titled {title!r}")


def test_window_demo_a_click_on_the_simulator_reaches_hq_and_ctrl_c_stops_everything(
    wide_screen: str, tmp_path: Path,
) -> None:
    env = {**os.environ, "DISPLAY": wide_screen}
    demo = subprocess.Popen([*KIOSK, "demo", "--data-dir", str(tmp_path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _window_id(wide_screen, "Kiosk")
        simulator = _window_id(wide_screen, "Tag simulator")
        time.sleep(2)  # let both windows draw their first frames
        # The first product button of the simulator panel, as a person would click it.
        subprocess.run(["xdotool", "mousemove", "--window", simulator, "200", "300", "click", "1"], env=env,
                       check=True)
        store = ProfileStore(f"sqlite:///{tmp_path / 'hq.sqlite'}")
        deadline = time.monotonic() + 30
        while store.event_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        stored = store.event_count()
        store.close()
        time.sleep(0.5)
        screenshot = ImageGrab.grab(xdisplay=wide_screen)
        if os.environ.get("KIOSK_UPDATE_SCREENSHOTS"):
            screenshot.save(SCREENSHOTS / "demo.png")
        assert stored == 1
        assert len(screenshot.getcolors(1 << 16) or range(1 << 16)) > 50  # both windows drew real frames
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole tree
        output, _ = demo.communicate(timeout=30)
    assert demo.returncode in (0, 130), output
    leftovers = subprocess.run(["pgrep", "-s", str(demo.pid)], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes left behind: {leftovers.stdout}"
