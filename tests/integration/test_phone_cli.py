"""`kiosk hq serve` with the phone pages, as a child process: HQ's master catalog from
`kiosk hq catalog import` behind /p/<sku>, its hand-off key made readable by its owner
only, links signed for a real kiosk link over Mosquitto under --public-url and taken
once; the demo catalog pointed at HQ's pages by --shop-url."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import KioskLink, Outbox
from kiosk_app.demo import demo_catalog, demo_catalog_path, free_port
from kiosk_protocol import CatalogError, load_catalog
from testkit.mosquitto import Mosquitto

KIOSK = [sys.executable, "-m", "kiosk_app"]


def _kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=120)


def test_hq_serve_serves_the_master_catalog_and_signs_links_under_its_public_url(
        mosquitto: Mosquitto, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    master = tmp_path / "master.json"
    imported = _kiosk("hq", "catalog", "import", str(demo_catalog_path()), "--master", str(master))
    assert imported.returncode == 0, imported.stderr
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"web": "web-key-0123456789abcdef"}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    handoff_key = tmp_path / "secrets" / "handoff.key"
    handoff_key.parent.mkdir()
    child = subprocess.Popen(
        [*KIOSK, "hq", "serve", "--db", f"sqlite:///{tmp_path / 'hq.sqlite'}", "--hq-key", str(hq_key[1]),
         "--api-port", str(port), "--api-keys", str(keys), "--catalog", str(master),
         "--handoff-key", str(handoff_key), "--public-url", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KIOSK_BROKER_URL": mosquitto.url})
    assert child.stdout is not None
    lines: list[str] = []
    while not lines or "HQ API on" not in lines[-1]:
        line = child.stdout.readline()
        if not line:
            child.wait(10)
            pytest.fail(f"kiosk hq serve exited ({child.returncode}):\n{''.join(lines)}")
        lines.append(line)
    link = KioskLink(mosquitto.url, "madrid-centro", "kiosk-01", Outbox(tmp_path / "outbox.sqlite"))
    link.start()
    try:
        assert "phone pages on" in lines[-1]
        assert handoff_key.stat().st_mode & 0o777 == 0o600
        assert link.subscribed.wait(10)
        answer = link.request_handoff(uuid.uuid4(), timeout_s=10)
        assert answer is not None and answer.url is not None and answer.url.startswith(f"{url}/h/")
        with httpx.Client(follow_redirects=True) as phone:
            visit = phone.get(answer.url)
            assert visit.status_code == 200 and str(visit.url) == f"{url}/phone/visit?lang=es"
            product = phone.get(f"{url}/p/BOOT-CHELSEA-BLK?store=madrid-centro")
            assert product.status_code == 200 and "89,95" in product.text
        assert httpx.get(answer.url).status_code == 410  # another phone
    finally:
        link.stop()
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=60)
    output = "".join(lines) + rest
    assert "links_opened=1" in output and "links_used=1" in output and "links_signed=1" in output


@pytest.mark.parametrize(("args", "says"), [
    (["--catalog", "CATALOG"], "--catalog serves phone pages"),
    (["--handoff-key", "KEY"], "--handoff-key needs --public-url"),
])
def test_hq_serve_refuses_phone_options_that_cannot_work(args: list[str], says: str, tmp_path: Path,
                                                         hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    replaced = [str(demo_catalog_path()) if a == "CATALOG" else str(tmp_path / "k") if a == "KEY" else a
                for a in args]
    result = _kiosk("hq", "serve", "--broker", "mqtt://127.0.0.1:9", "--hq-key", str(hq_key[1]), *replaced)
    assert result.returncode == 2 and says in result.stderr
    assert not (tmp_path / "k").exists()


def test_the_demo_catalog_can_name_hq_s_pages_as_its_shop(tmp_path: Path) -> None:
    copy = demo_catalog(tmp_path, "http://192.168.1.20:8000/")
    catalog = load_catalog(copy)
    assert catalog.shop_url == "http://192.168.1.20:8000"
    assert catalog.products == load_catalog(demo_catalog_path()).products
    assert all((copy.parent / product.image).is_file() for product in catalog.products)
    assert demo_catalog(tmp_path, None) == demo_catalog_path()
    with pytest.raises(CatalogError):
        demo_catalog(tmp_path, "shop.example.com")
