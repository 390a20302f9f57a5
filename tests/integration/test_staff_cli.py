"""`kiosk hq serve` serves the store staff page, as a child process over a real Mosquitto:
a store key signs in (a wrong one is refused), and the stop line counts both;
``--request-alert-minutes`` takes whole minutes from 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.demo import demo_catalog_path, free_port
from testkit.mosquitto import Mosquitto

KIOSK = [sys.executable, "-m", "kiosk_app"]
MADRID_KEY = "madrid-key-0123456789abcdef"


def test_hq_serve_serves_the_staff_page(mosquitto: Mosquitto, tmp_path: Path,
                                        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"hq": "hq-key-0123456789abcdef0",
                                "madrid-staff": {"key": MADRID_KEY, "role": "store", "store": "madrid-centro"}}))
    port = free_port()
    child = subprocess.Popen(
        [*KIOSK, "hq", "serve", "--db", f"sqlite:///{tmp_path / 'hq.sqlite'}", "--hq-key", str(hq_key[1]),
         "--api-port", str(port), "--api-keys", str(keys), "--catalog", str(demo_catalog_path()),
         "--request-alert-minutes", "3"],
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
    try:
        assert f"staff page on http://127.0.0.1:{port}/staff/" in lines[-1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:
            page = browser.get("/staff/?store=madrid-centro&lang=en")
            assert page.status_code == 200 and '"alert_minutes": 3' in page.text
            assert browser.post("/staff/session", json={"credential": "wrong-key-0123456789abcdef"}
                                ).status_code == 401
            assert browser.post("/staff/session", json={"credential": MADRID_KEY}).status_code == 204
            assert browser.get("/staff/api/madrid-centro/requests").json()["requests"] == []
    finally:
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=60)
    assert "staff page: StaffStats(sign_ins=1, sign_ins_refused=1" in rest


def test_request_alert_minutes_are_whole_minutes_from_one(hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    refused = subprocess.run([*KIOSK, "hq", "serve", "--broker", "mqtt://127.0.0.1:9", "--hq-key", str(hq_key[1]),
                              "--request-alert-minutes", "0"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--request-alert-minutes" in refused.stderr
