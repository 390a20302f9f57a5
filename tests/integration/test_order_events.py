"""What shoppers looked at and bought reaches the suggestion model: views from a kiosk (over
a real Mosquitto into HQ's ingest) and from the web shop and the app, and orders from
every channel (over HQ's API on a real socket), written by ``kiosk hq export-events`` and
read by ``kiosk recommender build --events``, each as a person runs them; and ``kiosk hq
serve --catalog`` flagging order lines its catalog does not know, counted when it stops."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import without_password
from hq import ApiKeys, ApiServer, IngestWorker, ProfileStore, create_app
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import EventKind, new_event
from recommender import Channel, load_model, read_event_log
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually
from testkit.webhook_steps import KioskPublisher

KIOSK_CMD = [sys.executable, "-m", "kiosk_app"]
KEYS = {"web": "web-key-0123456789abcdef", "app": "app-key-0123456789abcdef", "pos": "pos-key-0123456789abcdef"}
STORE, KIOSK = "madrid-centro", "kiosk-01"
AT = "2026-11-30T17:05:00+00:00"


def _order(order_id: str, channel: str, store: str, *skus: str) -> dict[str, Any]:
    return {"order_id": order_id, "channel": channel, "store": store, "at": AT,
            "lines": [{"sku": sku, "size": "40", "quantity": 1, "unit_price": "10.00"} for sku in skus]}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK_CMD, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_views_and_orders_reach_the_model_build_through_the_exported_click_log(
        database: str, mosquitto: Mosquitto, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if database == "sqlite" else "postgres_url")
    store = ProfileStore(url)
    worker = IngestWorker(mosquitto.url, store)
    worker.start()
    server = ApiServer(create_app(store, ApiKeys(KEYS)), port=free_port())
    server.start()
    visit, web_session = uuid.uuid4(), uuid.uuid4()
    kiosk = KioskPublisher(mosquitto.port)
    try:
        assert worker.subscribed.wait(10)
        taps = [new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=n + 1, session=visit,
                          shopper=None, sku=sku)
                for n, sku in enumerate(["BOOT-CHELSEA-BLK", "BOOT-CHELSEA-TAN", "SNK-COURT-WHT"])]
        kiosk.publish(*taps)
        assert eventually(lambda: store.event_count() == 3, 20)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for channel, sku in (("web", "SNK-COURT-WHT"), ("web", "SNK-CANVAS-NVY"), ("app", "BOOT-CHELSEA-BLK")):
                session = web_session if channel == "web" else uuid.uuid4()
                answer = client.post(f"/v1/sessions/{session}/views", json={"sku": sku},
                                     headers={"X-Api-Key": KEYS[channel]})
                assert answer.status_code == 201, answer.text
            for key, path, body in [
                    ("web", "/v1/shoppers/shopper-0042/orders",
                     _order("web-1001", "web", "online", "BOOT-CHELSEA-BLK", "SNK-COURT-WHT")),
                    ("pos", "/v1/orders", _order("till-7", "till", STORE, "SNK-CANVAS-NVY")),
                    ("pos", "/v1/orders", _order("k-1", f"kiosk:{KIOSK}", STORE, "BOOT-CHELSEA-TAN"))]:
                answer = client.post(path, json=body, headers={"X-Api-Key": KEYS[key]})
                assert answer.status_code == 201, answer.text
    finally:
        kiosk.close()
        server.stop()
        worker.stop()
        store.close()

    out = tmp_path / "events.tsv"
    exported = _run("hq", "export-events", "--db", url, str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == (f"exported 6 views in 3 visits, 4 order lines of 3 orders, 0 suggestions "
                                       f"shown from "
                                       f"{without_password(url)} to {out}")
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["SessionId", "ItemId", "Time", "Channel", "Store", "Kind"]
    views = [row for row in rows[1:] if row[5] == "view"]
    assert [(r[1], r[3], r[4]) for r in views if r[0] == str(visit)] == [
        ("BOOT-CHELSEA-BLK", "kiosk", STORE), ("BOOT-CHELSEA-TAN", "kiosk", STORE), ("SNK-COURT-WHT", "kiosk", STORE)]
    assert [(r[1], r[3], r[4]) for r in views if r[0] == str(web_session)] == [
        ("SNK-COURT-WHT", "web", ""), ("SNK-CANVAS-NVY", "web", "")]
    orders = {(r[0], r[1], r[2], r[3], r[4]) for r in rows[1:] if r[5] == "order"}
    at = f"{datetime.fromisoformat(AT).timestamp():.3f}"
    assert orders == {("order:web-1001", "BOOT-CHELSEA-BLK", at, "web", ""),
                      ("order:web-1001", "SNK-COURT-WHT", at, "web", ""),
                      ("order:till-7", "SNK-CANVAS-NVY", at, "store", STORE),
                      ("order:k-1", "BOOT-CHELSEA-TAN", at, "kiosk", STORE)}
    assert "shopper-0042" not in out.read_text()  # nothing names a shopper

    log = read_event_log([out])
    assert (len(log), log.n_sessions) == (6, 3)
    assert log.orders is not None and (len(log.orders), log.orders.n_sessions) == (4, 3)
    assert {list(Channel)[c] for c in log.orders.channels} == {Channel.WEB, Channel.STORE, Channel.KIOSK}
    model_file = tmp_path / "model.rec"
    built = _run("recommender", "build", "--events", str(out), "-o", str(model_file))
    assert built.returncode == 0, built.stderr
    assert "6 clicks in 3 sessions, 4 order lines of 3 orders kept apart" in built.stdout
    assert load_model(model_file).info.n_clicks == 6  # built on the views


def test_an_export_to_a_folder_that_is_not_there_says_so_and_writes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "events.tsv"
    failed = _run("hq", "export-events", "--db", sqlite_url, str(out))
    assert failed.returncode == 1 and f"no events exported to {out}" in failed.stderr
    assert not out.parent.exists()


def test_an_export_from_a_url_file_shows_no_password_and_a_database_out_of_reach_says_so(
        postgres_url: str, tmp_path: Path) -> None:
    url_file = tmp_path / "db.url"
    url_file.write_text(postgres_url)
    url_file.chmod(0o600)
    out = tmp_path / "events.tsv"
    exported = _run("hq", "export-events", "--db-url-file", str(url_file), str(out))
    password = postgres_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert exported.returncode == 0, exported.stderr
    shown = exported.stdout + exported.stderr
    assert f":{password}@" not in shown and postgres_url not in shown and ":***@" in exported.stdout
    unreachable = _run("hq", "export-events", "--db", "postgresql+psycopg://u:secret-pw@127.0.0.1:9/hq", str(out))
    assert unreachable.returncode == 1 and "cannot open the profile database" in unreachable.stderr
    assert "secret-pw" not in unreachable.stdout + unreachable.stderr
    assert out.read_text() == "SessionId\tItemId\tTime\tChannel\tStore\tKind\n"  # the earlier export stays whole


def test_an_empty_hq_exports_a_header_that_the_build_refuses_clearly(sqlite_url: str, tmp_path: Path) -> None:
    out = tmp_path / "events.tsv"
    assert _run("hq", "export-events", "--db", sqlite_url, str(out)).returncode == 0
    assert out.read_text() == "SessionId\tItemId\tTime\tChannel\tStore\tKind\n"
    built = _run("recommender", "build", "--events", str(out), "-o", str(tmp_path / "m.rec"))
    assert built.returncode == 1 and "no clicks in" in built.stderr


def test_hq_serve_checks_order_lines_against_its_catalog_and_counts_them_when_it_stops(
        mosquitto: Mosquitto, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    master = tmp_path / "master.json"
    assert _run("hq", "catalog", "import", str(demo_catalog_path()), "--master", str(master)).returncode == 0
    keys = tmp_path / "api-keys.json"
    keys.write_text(json.dumps({"web": KEYS["web"]}))
    port = free_port()
    child = subprocess.Popen(
        [*KIOSK_CMD, "hq", "serve", "--db", f"sqlite:///{tmp_path / 'hq.sqlite'}", "--hq-key", str(hq_key[1]),
         "--api-port", str(port), "--api-keys", str(keys), "--catalog", str(master)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KIOSK_BROKER_URL": mosquitto.url})
    assert child.stdout is not None
    lines: list[str] = []
    try:
        while not lines or "HQ API on" not in lines[-1]:
            line = child.stdout.readline()
            if not line:
                child.wait(10)
                pytest.fail(f"kiosk hq serve exited ({child.returncode}):\n{''.join(lines)}")
            lines.append(line)
        body = _order("till-7", "till", STORE, "BOOT-CHELSEA-BLK", "NO-SUCH-SKU")
        body["lines"].append({"sku": "BOOT-CHELSEA-BLK", "size": "47", "quantity": 1, "unit_price": "1"})
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": KEYS["web"]}) as client:
            placed = client.post("/v1/orders", json=body)
            assert placed.status_code == 201, placed.text
            assert [line["flag"] for line in placed.json()["lines"]] == [None, "unknown_sku", "unknown_size"]
            assert client.post("/v1/orders", json={**body, "order_id": "bad id"}).status_code == 422
    finally:
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=60)
    assert ("orders: 1 placed, 0 retries, refused: invalid_request 1, "
            "flagged lines: {'unknown_sku': 1, 'unknown_size': 1}") in rest
