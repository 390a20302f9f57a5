"""`kiosk hq serve` keeps stock by itself, as a child process over a real Mosquitto: its
stock is HQ's master catalog's from the start, a new import of the catalog reaches the
stores without a feed of their own (a store with one keeps its figures), and its stop line
counts the sweeper's catalog loads and the reservations refused. A kiosk's hold over MQTT
is answered and its state and the store's stock reach the kiosk. (Holds running out on
the sweeper's rounds: ``test_reservations``, with a clock ahead.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import dump_catalog, load_catalog
from testkit.mosquitto import Mosquitto
from testkit.store_kiosk import StoreKiosk
from testkit.waiting import eventually

KIOSK = [sys.executable, "-m", "kiosk_app"]
WEB = {"X-Api-Key": "web-key-0123456789abcdef"}
BOOT, STORE, OTHER = "BOOT-CHELSEA-BLK", "madrid-centro", "barcelona-diagonal"


def _units(client: httpx.Client, store: str, size: str) -> Any:
    rows = client.get(f"/v1/stores/{store}/stock", params={"sku": BOOT}).json()["stock"]
    return next(row["units"] for row in rows if row["size"] == size)


def _serve(mosquitto: Mosquitto, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path], port: int, keys: Path,
           master: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """``kiosk hq serve`` started, once its API answers; its output so far."""
    child = subprocess.Popen(
        [*KIOSK, "hq", "serve", "--db", f"sqlite:///{tmp_path / 'hq.sqlite'}", "--hq-key", str(hq_key[1]),
         "--api-port", str(port), "--api-keys", str(keys), "--catalog", str(master), "--hold-sweep", "0.1"],
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
    return child, lines


def _imported(tmp_path: Path) -> Path:
    master = tmp_path / "master.json"
    imported = subprocess.run([*KIOSK, "hq", "catalog", "import", str(demo_catalog_path()), "--master", str(master)],
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    return master


def test_hq_serve_answers_a_kiosks_hold_and_tells_it_and_its_store(mosquitto: Mosquitto, tmp_path: Path,
                                                                   hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"web": WEB["X-Api-Key"]}))
    port = free_port()
    child, lines = _serve(mosquitto, tmp_path, hq_key, port, keys, _imported(tmp_path))
    kiosk = StoreKiosk(mosquitto.url, STORE, "kiosk-01")
    try:
        made = kiosk.ask(BOOT, "41").reservation
        assert made is not None
        assert kiosk.wait_for(lambda: [level.available["41"] for level in kiosk.levels(BOOT)][-1:] == [0])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=WEB, timeout=30) as web:
            moved = web.post(f"/v1/stores/{STORE}/reservations/{made.reservation_id.hex}/state",
                             json={"state": "taken"})
            assert moved.status_code == 200, moved.text
        assert kiosk.wait_for(lambda: [u.reservation.state.value for u in kiosk.updates()] == ["held", "taken"])
    finally:
        kiosk.close()
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=60)
    output = "".join(lines) + rest
    assert "reservation requests: DeskStats(held=1," in output
    assert "store live: LiveStats(updates=2," in output


def test_hq_serve_loads_the_catalogs_stock_and_sweeps_holds(mosquitto: Mosquitto, tmp_path: Path,
                                                            hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    master = tmp_path / "master.json"
    imported = subprocess.run([*KIOSK, "hq", "catalog", "import", str(demo_catalog_path()), "--master", str(master)],
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"web": WEB["X-Api-Key"]}))
    port = free_port()
    child, lines = _serve(mosquitto, tmp_path, hq_key, port, keys, master)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=WEB, timeout=30) as web:
            assert _units(web, STORE, "40") == 5  # the catalog's, before any feed
            assert web.put(f"/v1/stores/{STORE}/stock", json={"version": 1, "stock": {BOOT: {"40": 7}}}
                           ).status_code == 200
            held = web.post(f"/v1/stores/{STORE}/reservations",
                            json={"sku": BOOT, "size": "41", "kind": "fitting_room"})
            assert held.status_code == 201, held.text
            assert web.post(f"/v1/stores/{STORE}/reservations",
                            json={"sku": BOOT, "size": "41", "kind": "fitting_room"}).json()["error"] == "out_of_stock"
            # A new import: the store without a feed takes its figures, the other keeps its own.
            catalog = load_catalog(master)
            changed = catalog.model_copy(update={"products": tuple(
                p.model_copy(update={"stock": {s: {size: 9 for size in p.sizes} for s in (STORE, OTHER)}})
                for p in catalog.products)})
            source = tmp_path / "changed.json"
            source.write_text(dump_catalog(changed), encoding="utf-8")
            again = subprocess.run([*KIOSK, "hq", "catalog", "import", str(source), "--master", str(master)],
                                   capture_output=True, text=True, timeout=120)
            assert again.returncode == 0, again.stderr
            assert eventually(lambda: _units(web, OTHER, "40") == 9)
            assert _units(web, STORE, "40") == 7
    finally:
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=60)
    output = "".join(lines) + rest
    assert "holds: SweepStats(" in output and "catalog_loads=2" in output
    assert "'out_of_stock': 1" in output
