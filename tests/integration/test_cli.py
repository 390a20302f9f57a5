"""The `kiosk` command as a person runs it: the demo headless and in windows (with HQ's
API, dashboard and phone pages at the addresses it prints, and no secret in its output),
and the NFC emulator."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image, ImageGrab

from hq import ProfileStore
from hq._schema import events
from kiosk_app.demo import free_port
from kiosk_app.ui import theme
from kiosk_protocol import load_catalog
from nfc_reader import TagKind, TagRead, TagReader
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KIOSK = [sys.executable, "-m", "kiosk_app"]
# Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/demo.png from this run.
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
HQ_LINE = re.compile(r"^HQ on (http://127\.0\.0\.1:\d+); the kiosk's product tags and QR codes open (\S+)$", re.M)
HANDOFF_TOKEN = re.compile(r"/h/[A-Za-z0-9_-]{8,}")
PHONE_SKU, PHONE_NAME = "BOOT-CHELSEA-BLK", "Botín Chelsea negro"


def _secrets(data_dir: Path) -> list[str]:
    """Every secret the demo keeps in its data dir: the channels' API keys and HQ's hand-off key."""
    keys = json.loads((data_dir / "hq" / "api-keys.json").read_text())
    return [*keys.values(), (data_dir / "hq" / "handoff.key").read_text().strip()]


def _assert_no_secret_in(output: str, data_dir: Path) -> None:
    for name in ("api-keys.json", "web.key", "app.key", "hq.key", "handoff.key"):
        assert (data_dir / "hq" / name).stat().st_mode & 0o777 == 0o600
    leaked = [secret[:6] + "…" for secret in _secrets(data_dir) if secret in output]
    assert leaked == [] and not HANDOFF_TOKEN.search(output), "a secret in the demo's output"


def _assert_catalogs_name(data_dir: Path, shop_url: str) -> None:
    """The catalog HQ serves and publishes, and the one the kiosk took from HQ (its QR codes and
    the simulator's tags), name ``shop_url`` as their shop."""
    delivered = [path for path in (data_dir / "kiosk" / "catalog").rglob("*.json") if "shop_url" in path.read_text()]
    assert delivered, "the kiosk took no catalog from HQ"
    for path in [data_dir / "catalog" / "demo.json", *delivered]:
        assert load_catalog(path).shop_url == shop_url, path


def test_headless_demo_taps_products_and_hq_stores_every_event_and_shows_them_over_http(tmp_path: Path) -> None:
    result = subprocess.run([*KIOSK, "demo", "--headless", "--taps", "3", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    taps = [line for line in result.stdout.splitlines() if line.startswith("tap ")]
    assert len(taps) == 3 and all(line.endswith("HQ stored event: yes") for line in taps)
    assert "3/3 taps shown and stored at HQ" in result.stdout
    assert "card of demo-shopper-0001: signed in" in result.stdout
    assert "HTTP side: 6/6 checks passed" in result.stdout
    assert "3/3 products tapped counted" in result.stdout  # the demo's taps in the analytics page's figures
    found = HQ_LINE.search(result.stdout)
    assert found is not None and found[1] == found[2], result.stdout  # the tags and QR codes open HQ's pages
    hq_url = found[1]
    assert f"{hq_url}/h/… opened the visit on a phone: 200" in result.stdout
    assert "3/3 taps in its history: yes" in result.stdout
    _assert_catalogs_name(tmp_path, hq_url)
    _assert_no_secret_in(result.stdout + result.stderr, tmp_path)


def test_headless_demo_runs_against_a_real_mosquitto_with_another_shop_named(mosquitto: Mosquitto,
                                                                            tmp_path: Path) -> None:
    shop = "https://shop.example.com"
    result = subprocess.run([*KIOSK, "demo", "--headless", "--taps", "2", "--broker", mosquitto.url,
                             "--data-dir", str(tmp_path), "--shop-url", shop], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2/2 taps shown and stored at HQ" in result.stdout
    assert f"{shop}/h/… opened the visit on a phone: 200" in result.stdout  # HQ signs links on the shop's address
    found = HQ_LINE.search(result.stdout)
    assert found is not None and found[2] == shop
    _assert_catalogs_name(tmp_path, shop)


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


def _window_id(display: str, title: str, timeout_s: float = 100.0, owner: subprocess.Popen[bytes] | None = None,
               errors: Path | None = None) -> str:
    """The id of the window titled ``title``, once it is on ``display``; a process ``owner`` that
    exits first fails the wait at once, with what it wrote to ``errors``."""
    deadline = time.monotonic() + timeout_s
    tree = ""
    while time.monotonic() < deadline:
        if owner is not None and owner.poll() is not None:
            said = errors.read_text(errors="replace")[-3000:] if errors is not None else ""
            raise AssertionError(f"exited with {owner.returncode} before its window {title!r} opened:\n{said}")
        listed = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True,
                                env={**os.environ, "DISPLAY": display})
        tree = listed.stdout + listed.stderr
        for line in tree.splitlines():
            if f'"{title}":' in line:
                return line.split()[0]
        time.sleep(0.2)
    raise TimeoutError(f"no window titled {title!r} on {display}; its windows:\n{tree[-2000:]}")


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


def _printed(output: str, pattern: str) -> re.Match[str]:
    found = re.search(pattern, output, re.M)
    assert found is not None, f"the demo printed no {pattern!r}:\n{output}"
    return found


def _assert_the_printed_addresses_answer(output: str, data_dir: Path) -> None:
    """What the demo tells a newcomer to open and call works as printed: the dashboard (its page,
    and its data after signing in with the hq key from the named file), a product's phone page,
    the profile API with the web key from the named file, and HQ's health and routes."""
    hq_url = _printed(output, HQ_LINE.pattern)[1]
    _assert_catalogs_name(data_dir, hq_url)
    dashboard = _printed(output, r"^  fleet dashboard  (\S+)  \(sign in with the hq key, in (\S+)\)$")
    phone_page = _printed(output, r"^  phone page       (\S+)$")[1]
    curl = _printed(output, r'^  profile API      curl -H "X-Api-Key: \$\(cat (\S+)\)" (\S+)$')
    routes = _printed(output, r"^ +\(every route: (\S+)\)$")[1]
    assert phone_page == f"{hq_url}/p/{PHONE_SKU}?store=madrid-centro"
    with httpx.Client(timeout=10) as browser:
        assert browser.get(dashboard[1]).status_code == 200
        hq_key = Path(dashboard[2]).read_text()
        assert Path(dashboard[2]).stat().st_mode & 0o777 == 0o600
        assert browser.post(f"{hq_url}/fleet/session", json={"key": hq_key}).status_code == 204

        def kiosks() -> list[str]:
            answer = browser.get(f"{hq_url}/fleet/api/kiosks")  # by the sign-in cookie alone
            assert answer.status_code == 200, answer.text
            return [kiosk["kiosk"] for kiosk in answer.json()["kiosks"]]

        assert eventually(lambda: "kiosk-01" in kiosks(), 30, poll_s=0.2)
        page = browser.get(phone_page)
        assert page.status_code == 200 and PHONE_NAME in page.text
        web_key = Path(curl[1]).read_text()
        profile = browser.get(curl[2], headers={"X-Api-Key": web_key})
        # The click was an anonymous tap: the key is taken, and HQ holds no profile of the demo shopper yet.
        assert profile.status_code == 404 and profile.json()["error"] == "unknown_shopper", profile.text
        assert browser.get(f"{hq_url}/v1/health").status_code == 200
        assert browser.get(routes).status_code == 200


def _views_at(store: ProfileStore) -> int:
    """How many product views HQ holds."""
    with store.engine.connect() as db:
        return int(db.execute(sa.select(sa.func.count()).where(events.c.kind == "product_view")).scalar_one())


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
        eventually(lambda: _views_at(store) >= 1, 30, poll_s=0.1)
        stored = _views_at(store)
        store.close()
        assert eventually(lambda: _colours(ImageGrab.grab(xdisplay=wide_screen)) > 50)  # both windows drew frames
        if os.environ.get("KIOSK_UPDATE_SCREENSHOTS"):
            ImageGrab.grab(xdisplay=wide_screen).save(SCREENSHOTS / "demo.png")
        assert stored == 1  # the one click's view, once (beside the visit it began)
        assert eventually(lambda: "\ntry: " in log.read_text(), 30, poll_s=0.1)
        _assert_the_printed_addresses_answer(log.read_text(), tmp_path)
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole tree
        demo.wait(30)
    assert demo.returncode in (0, 130), log.read_text()
    _assert_no_secret_in(log.read_text(), tmp_path)
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

    broker_file, errors = tmp_path / "broker.url", tmp_path / "kiosk.err"
    broker_file.write_text(mosquitto.url)
    with errors.open("wb") as stderr:  # the child keeps its own copy
        kiosk = subprocess.Popen(
            [*KIOSK, "run", "--window", "--store", "madrid-centro", "--kiosk", "kiosk-01", "--catalog",
             str(demo_catalog_path()), "--reader", "udp:127.0.0.1:9", "--broker-url-file", str(broker_file),
             "--data-dir", str(tmp_path / "kiosk"), "--hq-key", str(hq_key[1])],
            env={**os.environ, "DISPLAY": wide_screen}, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        _window_id(wide_screen, "Kiosk", owner=kiosk, errors=errors)
        kiosk.send_signal(stop)
        assert kiosk.wait(60) == 0
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
