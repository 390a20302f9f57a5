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
from PIL import Image, ImageGrab

from hq import ProfileStore
from kiosk_app.demo import free_port
from kiosk_app.ui import theme
from nfc_reader import TagKind, TagRead, TagReader
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KIOSK = [sys.executable, "-m", "kiosk_app"]
# Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/demo.png from this run.
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


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


def _window_id(display: str, title: str, timeout_s: float = 120.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True,
                              env={**os.environ, "DISPLAY": display}).stdout
        for line in tree.splitlines():
            if f'"{title}":' in line:
                return line.split()[0]
        time.sleep(0.2)
    raise TimeoutError(f"no window titled {title!r}")


def _colours(image: Image.Image) -> int:
    return len(image.getcolors(1 << 16) or range(1 << 16))


def _button_under_the_card(display: str, window: str, x: int, y: int) -> bool:
    """Whether the simulator's settled panel is drawn: a plain button at (x, y) with the
    loyalty card above it (while the panel lays out, other things pass under the point)."""
    geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", window], capture_output=True, text=True,
                              env={**os.environ, "DISPLAY": display}).stdout
    origin = dict(line.split("=", 1) for line in geometry.split() if "=" in line)
    if "X" not in origin:
        return False
    screen = ImageGrab.grab(xdisplay=display).convert("RGB")
    column = [screen.getpixel((int(origin["X"]) + x, int(origin["Y"]) + row)) for row in range(y + 1)]
    surface, card = (tuple(round(c * 255) for c in theme.STANDARD[name][:3]) for name in ("SURFACE", "ACCENT"))
    return column[y] == surface and any(column[row:row + 8] == [card] * 8 for row in range(y - 8))


def test_window_demo_a_click_on_the_simulator_reaches_hq_and_ctrl_c_stops_everything(
    wide_screen: str, tmp_path: Path,
) -> None:
    env = {**os.environ, "DISPLAY": wide_screen}
    log = tmp_path / "demo.log"  # a file, not a pipe nobody reads until the end: it cannot fill up
    with log.open("w") as output:
        demo = subprocess.Popen([*KIOSK, "demo", "--data-dir", str(tmp_path)], env=env, stdout=output,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        _window_id(wide_screen, "Kiosk")
        simulator = _window_id(wide_screen, "Tag simulator")
        # The first product button of the simulator panel, as a person would click it once they see it.
        assert eventually(lambda: _button_under_the_card(wide_screen, simulator, 200, 300), 60, poll_s=0.2)
        subprocess.run(["xdotool", "mousemove", "--window", simulator, "200", "300", "click", "1"], env=env,
                       check=True)
        store = ProfileStore(f"sqlite:///{tmp_path / 'hq.sqlite'}")
        eventually(lambda: store.event_count() >= 1, 30, poll_s=0.1)
        stored = store.event_count()
        store.close()
        assert eventually(lambda: _colours(ImageGrab.grab(xdisplay=wide_screen)) > 50)  # both windows drew frames
        if os.environ.get("KIOSK_UPDATE_SCREENSHOTS"):
            ImageGrab.grab(xdisplay=wide_screen).save(SCREENSHOTS / "demo.png")
        assert stored == 1
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole tree
        demo.wait(30)
    assert demo.returncode in (0, 130), log.read_text()
    leftovers = subprocess.run(["pgrep", "-s", str(demo.pid)], capture_output=True, text=True)
    assert leftovers.stdout == "", f"processes left behind: {leftovers.stdout}"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_kiosk_window_stopped_by_a_signal_shuts_down_through_its_own_stop(
    stop: signal.Signals, wide_screen: str, mosquitto: Mosquitto, hq_key: tuple[object, Path], tmp_path: Path,
) -> None:
    """Ctrl-C (setting a kiosk up in a terminal) and systemd's SIGTERM both close the window
    through on_stop, and the kiosk exits 0; an interrupt raised inside a Kivy callback could
    be lost there and leave the window running."""
    from kiosk_app.demo import demo_catalog_path

    broker_file = tmp_path / "broker.url"
    broker_file.write_text(mosquitto.url)
    kiosk = subprocess.Popen(
        [*KIOSK, "run", "--window", "--store", "madrid-centro", "--kiosk", "kiosk-01", "--catalog",
         str(demo_catalog_path()), "--reader", "udp:127.0.0.1:9", "--broker-url-file", str(broker_file),
         "--data-dir", str(tmp_path / "kiosk"), "--hq-key", str(hq_key[1])],
        env={**os.environ, "DISPLAY": wide_screen}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _window_id(wide_screen, "Kiosk")
        kiosk.send_signal(stop)
        assert kiosk.wait(60) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
