"""HQ's HTTP servers under attack, over real sockets against real uvicorn servers: bodies
sent before (or without) a valid key, oversized bodies, half-open connections, too many
connections, guessed keys and sign-ins, a signed-out cookie replayed, odd shopper ids."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest

from hq import (
    ApiKeys,
    ApiServer,
    FleetThresholds,
    FleetView,
    GuardStats,
    HttpLimits,
    ProfileStore,
    create_app,
    load_api_keys,
)
from hq._guard import DEFAULT_BODY_LIMIT
from kiosk_app.demo import free_port
from kiosk_protocol import KioskStatus, LinkState
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
WEB, AS_HQ = {"X-Api-Key": KEYS["web"]}, {"X-Api-Key": KEYS["hq"]}
QUICK = HttpLimits(max_connections=600, header_timeout_s=1.0, body_timeout_s=1.0)
HUGE = 400_000_000


class Served:
    """HQ's app on a real uvicorn server, and the counters of its guard."""

    def __init__(self, store: ProfileStore, server: ApiServer, guard: GuardStats) -> None:
        self.store, self.server, self.guard = store, server, guard
        self.port = int(server.url.rsplit(":", 1)[1])

    def client(self, address: str = "127.0.0.1") -> httpx.Client:
        return httpx.Client(base_url=self.server.url, transport=httpx.HTTPTransport(local_address=address),
                            timeout=10)


@contextlib.contextmanager
def served(sqlite_url: str, limits: HttpLimits = QUICK, fleet: FleetView | None = None,
           failure_rate: str = "5/minute") -> Iterator[Served]:
    store = ProfileStore(sqlite_url)
    app = create_app(store, ApiKeys(KEYS), fleet=fleet, failure_rate=failure_rate)
    server = ApiServer(app, port=free_port(), limits=limits)
    server.start()
    try:
        yield Served(store, server, app.state.guard.stats)
    finally:
        if fleet is not None:
            fleet.stop()  # ends open dashboard streams, so the server stops at once
        server.stop()
        store.close()


def _connect(port: int, address: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def _answer(sock: socket.socket, timeout_s: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout_s)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: hq", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_an_unauthenticated_oversized_put_is_answered_401_before_its_body_is_sent(sqlite_url: str) -> None:
    with served(sqlite_url) as hq:
        for key in (None, "a-wrong-key-0123456789ab"):
            sock = _connect(hq.port)
            headers = {"Content-Type": "application/json", "Content-Length": str(HUGE)}
            sock.sendall(_head("PUT", "/v1/shoppers/shopper-0042/consent", {**headers, **({"X-Api-Key": key}
                                                                                          if key else {})}))
            answer = _answer(sock)  # not one byte of the 400 MB sent
            assert answer.startswith(b"HTTP/1.1 401 ")
            assert b"connection: close" in answer.lower() and b'"error":"unauthorized"' in answer
            sock.close()
        assert (hq.guard.unauthenticated, hq.guard.keys_refused) == (1, 1)
        assert hq.store.event_count() == 0


def test_an_authenticated_oversized_body_gets_413_whether_announced_or_streamed(sqlite_url: str) -> None:
    with served(sqlite_url) as hq:
        sock = _connect(hq.port)
        sock.sendall(_head("PUT", "/v1/shoppers/shopper-0042/consent", {
            **WEB, "Content-Type": "application/json", "Content-Length": str(HUGE)}))
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 413 ") and b'"error":"body_too_large"' in answer
        sock.close()

        # Chunked: no length up front; refused once the bytes that arrived pass the limit.
        sock = _connect(hq.port)
        sock.sendall(_head("PUT", "/v1/shoppers/shopper-0042/preferences/size", {
            **WEB, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
        chunk, sent = b"x" * 1024, 0
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ)
        while not selector.select(timeout=0) and sent < 50 * DEFAULT_BODY_LIMIT:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            selector.select(timeout=0.01)  # the server's answer, if it has come
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 413 ") and b'"error":"body_too_large"' in answer
        assert sent < 50 * DEFAULT_BODY_LIMIT
        sock.close()
        assert hq.guard.bodies_too_large == 2
        assert hq.store.event_count() == 0


def _half_open(port: int, count: int) -> list[socket.socket]:
    """Connections that start a request head and never finish it."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: hq\r\n")
        sockets.append(sock)
    return sockets


def _closed_by_server(sockets: list[socket.socket], timeout_s: float) -> dict[socket.socket, bytes]:
    """What each socket received until the server closed it (those still open are missing)."""
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytes] = {}
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        received[sock] = b""
    closed: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + timeout_s
    while len(closed) < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[sock] += chunk
            else:
                selector.unregister(sock)
                closed[sock] = received[sock]
    return closed


def test_half_open_connections_are_answered_408_and_closed_after_the_header_timeout(sqlite_url: str) -> None:
    with served(sqlite_url) as hq:
        sockets = _half_open(hq.port, 500)
        started = time.monotonic()
        closed = _closed_by_server(sockets, timeout_s=30)
        took = time.monotonic() - started
        assert len(closed) == 500, f"{500 - len(closed)} half-open connections still open after {took:.1f}s"
        assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in closed.values())
        assert hq.server.stats.header_timeouts == 500
        assert eventually(lambda: not hq.server._server.server_state.connections)
        for sock in sockets:
            sock.close()


def test_a_body_that_stops_arriving_is_cut_after_the_body_timeout(sqlite_url: str) -> None:
    with served(sqlite_url) as hq:
        sock = _connect(hq.port)
        sock.sendall(_head("PUT", "/v1/shoppers/shopper-0042/consent", {
            **WEB, "Content-Type": "application/json", "Content-Length": "100"}) + b'{"status": ')
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")
        assert hq.server.stats.body_timeouts == 1
        sock.close()


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str], Path]]:
    """`kiosk hq files` as an operator runs it, with a 5 s header timeout and 100 connections at most."""
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "bundle.json").write_text("{}")
    port, log = free_port(), tmp_path / "files.log"
    with log.open("w") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "kiosk_app", "hq", "files", "--dir", str(tmp_path / "files"),
                                    "--port", str(port), "--header-timeout", "5", "--max-connections", "100"],
                                   stdout=subprocess.PIPE, stderr=log_file, text=True)
    assert process.stdout is not None and "HQ files ready" in process.stdout.readline()
    yield port, process, log
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)


def test_the_file_server_caps_connections_and_frees_half_open_ones(
        file_server: tuple[int, subprocess.Popen[str], Path]) -> None:
    port, process, log = file_server
    idle_fds = _open_fds(process.pid)
    held = _half_open(port, 100)
    assert eventually(lambda: _open_fds(process.pid) >= idle_fds + 100)
    extra = _half_open(port, 400)  # past the cap: each answered 503 and closed at once, not timed out (408)
    refused = _closed_by_server(extra, timeout_s=30)
    assert len(refused) == 400 and all(answer.startswith(b"HTTP/1.1 503 ") for answer in refused.values())
    assert _open_fds(process.pid) <= idle_fds + 100 + 5

    timed_out = _closed_by_server(held, timeout_s=30)
    assert len(timed_out) == 100 and all(answer.startswith(b"HTTP/1.1 408 ") for answer in timed_out.values())
    assert eventually(lambda: _open_fds(process.pid) <= idle_fds)
    with httpx.Client(timeout=10) as client:  # and it still serves
        assert client.get(f"http://127.0.0.1:{port}/bundle.json").status_code == 200
    for sock in held + extra:
        sock.close()
    logged = log.read_text()
    assert logged.count("refused a connection from 127.0.0.1") == 400
    assert logged.count("its request head was not complete within 5s") == 100


def test_the_dashboard_stream_outlives_the_read_timeouts_and_counts_as_a_connection(
        mosquitto: Mosquitto, sqlite_url: str) -> None:
    fleet = FleetView(mosquitto.url, thresholds=FleetThresholds())
    fleet.start()
    assert fleet.subscribed.wait(10)
    with served(sqlite_url, HttpLimits(max_connections=2, header_timeout_s=1, body_timeout_s=1), fleet) as hq:
        stream = _connect(hq.port)
        stream.sendall(_head("GET", "/fleet/api/stream", AS_HQ))
        stream.settimeout(10)
        seen = b""
        while b"event: snapshot" not in seen:
            seen += stream.recv(65536)
        probe = _half_open(hq.port, 1)  # the second connection: within the cap
        third = _closed_by_server(_half_open(hq.port, 1), timeout_s=5)  # past it: the stream counts
        assert [answer[:13] for answer in third.values()] == [b"HTTP/1.1 503 "]
        assert len(_closed_by_server(probe, timeout_s=10)) == 1  # the header timeout has passed...

        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        try:
            status = KioskStatus(state=LinkState.ONLINE, store="madrid-centro", kiosk="kiosk-01", at=datetime.now(UTC))
            publisher.publish("kiosk/madrid-centro/kiosk-01/status", status.model_dump_json(),
                              qos=1).wait_for_publish(5)
            while b"event: kiosk" not in seen:  # ...and the stream still delivers
                chunk = stream.recv(65536)
                assert chunk, "the server cut the dashboard stream"
                seen += chunk
        finally:
            publisher.loop_stop()
            publisher.disconnect()
        assert hq.server.stats.refused == 1
        stream.close()


def test_wrong_keys_and_sign_ins_from_one_address_are_logged_then_refused_with_429(
        mosquitto: Mosquitto, sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    fleet = FleetView(mosquitto.url, thresholds=FleetThresholds())
    fleet.start()
    assert fleet.subscribed.wait(10)
    caplog.set_level(logging.INFO, logger="hq")
    with served(sqlite_url, fleet=fleet, failure_rate="5/minute") as hq:
        with hq.client("127.0.0.2") as guesser, hq.client("127.0.0.1") as shop:
            for attempt in range(5):
                wrong = guesser.get("/v1/shoppers/shopper-0042", headers={"X-Api-Key": f"guess-{attempt:020d}"})
                assert wrong.status_code == 401
            limited = guesser.get("/v1/shoppers/shopper-0042", headers={"X-Api-Key": "guess-again-0123456789"})
            assert (limited.status_code, limited.json()["error"]) == (429, "too_many_failures")
            assert 0 < int(limited.headers["Retry-After"]) <= 60
            assert guesser.get("/v1/shoppers/shopper-0042", headers=WEB).status_code == 429  # even a right key
            assert shop.get("/v1/shoppers/shopper-0042", headers=WEB).status_code == 404  # other addresses: served
            assert shop.get("/v1/health").status_code == 200
        with hq.client("127.0.0.3") as browser:
            for _ in range(5):
                assert browser.post("/fleet/session", json={"key": KEYS["web"]}).status_code == 401
            assert browser.post("/fleet/session", json={"key": KEYS["hq"]}).status_code == 429
    assert (hq.guard.keys_refused, hq.guard.sign_ins_refused, hq.guard.rate_limited) == (5, 5, 3)
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("wrong X-Api-Key from 127.0.0.2" in m for m in refusals) == 5
    assert sum("dashboard sign-in from 127.0.0.3" in m for m in refusals) == 5
    assert any("127.0.0.2 failed 5 per 1 minute" in m for m in refusals)
    assert not any(KEYS["web"] in r.getMessage() or "guess-" in r.getMessage() for r in caplog.records)


def test_a_signed_out_cookie_is_refused_by_every_hq_process(mosquitto: Mosquitto, sqlite_url: str) -> None:
    fleets = [FleetView(mosquitto.url, client_id=f"hq-fleet-{n}", thresholds=FleetThresholds()) for n in (1, 2)]
    for fleet in fleets:
        fleet.start()
        assert fleet.subscribed.wait(10)
    with (served(sqlite_url, fleet=fleets[0]) as first, served(sqlite_url, fleet=fleets[1]) as second,
          first.client() as a, second.client() as b):
        assert a.post("/fleet/session", json={"key": KEYS["hq"]}).status_code == 204
        cookie = a.cookies["hq_fleet_session"]
        b.cookies.set("hq_fleet_session", cookie, path="/fleet")
        assert b.get("/fleet/api/kiosks").status_code == 200  # one sign-in for every HQ process
        assert a.delete("/fleet/session").status_code == 204
        assert b.get("/fleet/api/kiosks").status_code == 401
        a.cookies.set("hq_fleet_session", cookie, path="/fleet")  # the old cookie, replayed
        assert a.get("/fleet/api/kiosks").status_code == 401


def test_a_short_or_unfit_key_is_refused_when_loaded(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    for unfit in ("web-key-0123456789abc", "web key with spaces 0123456789"):  # 21 characters; not base64url
        keys.write_text(f'{{"web": "{unfit}"}}')
        result = subprocess.run([sys.executable, "-m", "kiosk_app", "hq", "serve", "--broker", "mqtt://127.0.0.1:1",
                                 "--hq-key", str(keys), "--api-port", str(free_port()), "--api-keys", str(keys)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "128 bits" in result.stderr
        assert unfit not in result.stderr + result.stdout


def test_a_file_that_is_no_hq_key_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    not_a_key = tmp_path / "hq-public.pem"
    not_a_key.write_text("this is not a PEM public key")
    result = subprocess.run([sys.executable, "-m", "kiosk_app", "hq", "serve", "--broker", "mqtt://127.0.0.1:1",
                             "--hq-key", str(not_a_key)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "not a PEM public key" in result.stderr
    assert "Traceback" not in result.stderr


def test_minted_keys_are_256_bits_kept_private_and_loaded(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    result = subprocess.run([sys.executable, "-m", "kiosk_app", "hq", "new-api-keys", str(keys_file), "web", "hq"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    keys = load_api_keys(keys_file)
    assert set(keys.keys) == {"web", "hq"} and all(len(key) == 43 for key in keys.keys.values())
    assert keys_file.stat().st_mode & 0o777 == 0o600
    assert not any(key in result.stdout + result.stderr for key in keys.keys.values())
    again = subprocess.run([sys.executable, "-m", "kiosk_app", "hq", "new-api-keys", str(keys_file), "web"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "never replaced" in again.stderr
    assert load_api_keys(keys_file).keys == keys.keys


@pytest.mark.parametrize("raw", ["..", ".", "%2E%2E", "a%E2%80%AEb", "a%C2%85b", "a%EF%BF%BEb", "%FF", "%FFx",
                                 "e%CC%81", "a%20b", "a%09b", "%EF%BB%BFa", "x" * 129])
def test_odd_shopper_ids_get_a_422(sqlite_url: str, raw: str) -> None:
    with served(sqlite_url) as hq:
        for method, path in (("GET", f"/v1/shoppers/{raw}"), ("PUT", f"/v1/shoppers/{raw}/wishlist/BOOT-1"),
                             ("DELETE", f"/v1/shoppers/{raw}")):
            sock = _connect(hq.port)
            sock.sendall(_head(method, path, {**WEB, "Connection": "close"}))
            answer = _answer(sock)
            sock.close()
            assert answer.startswith(b"HTTP/1.1 422 "), (path, answer[:200])
            assert b'"where":"path.shopper"' in answer
        assert hq.store.event_count() == 0 and not hq.store.is_erased(urllib.parse.unquote(raw, errors="replace"))


def test_pages_carry_security_headers_and_the_docs_load_nothing_from_elsewhere(sqlite_url: str,
                                                                              mosquitto: Mosquitto) -> None:
    fleet = FleetView(mosquitto.url, thresholds=FleetThresholds())
    fleet.start()
    assert fleet.subscribed.wait(10)
    with served(sqlite_url, fleet=fleet) as hq, hq.client() as client:
        for path in ("/v1/health", "/fleet/", "/docs", "/v1/shoppers/nobody"):
            response = client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
        csp = client.get("/fleet/").headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        docs = client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert re.findall(r"https?://[^\s\"'<>]+", docs.text) == []  # no CDN, no external favicon
        for asset in re.findall(r"(?:src|href)=\"(/[^\"]+)\"", docs.text) + re.findall(r"url: '(/[^']+)'", docs.text):
            assert client.get(asset).status_code == 200, asset

        plain = client.post("/fleet/session", json={"key": KEYS["hq"]})
        behind_tls = client.post("/fleet/session", json={"key": KEYS["hq"]}, headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in plain.headers["set-cookie"].lower()
        assert "; secure" in behind_tls.headers["set-cookie"].lower()  # a TLS proxy on 127.0.0.1 is trusted


def test_erasing_an_unknown_shopper_is_a_404_that_leaves_no_tombstone(sqlite_url: str) -> None:
    with served(sqlite_url) as hq, hq.client() as client:
        gone = client.delete("/v1/shoppers/never-seen", headers=WEB)
        assert (gone.status_code, gone.json()["error"]) == (404, "unknown_shopper")
        assert not hq.store.is_erased("never-seen")
        assert client.put("/v1/shoppers/never-seen/consent", headers=WEB, json={"status": "granted"}).status_code == 200
        assert client.delete("/v1/shoppers/never-seen", headers=WEB).status_code == 200
        again = client.delete("/v1/shoppers/never-seen", headers=WEB)  # a retry, to tell the kiosks again
        assert again.status_code == 200 and hq.store.is_erased("never-seen")


def test_the_erase_command_refuses_an_unknown_shopper_and_keeps_no_tombstone(sqlite_url: str) -> None:
    from click.testing import CliRunner

    from kiosk_app.cli import main

    result = CliRunner().invoke(main, ["hq", "erase-profile", "never-seen", "--db", sqlite_url,
                                       "--broker", "mqtt://127.0.0.1:1"])
    assert result.exit_code != 0 and "HQ holds no profile for 'never-seen'" in result.output
    store = ProfileStore(sqlite_url)
    try:
        assert not store.is_erased("never-seen")
    finally:
        store.close()


def test_the_reserved_store_online_cannot_be_provisioned(tmp_path: Path) -> None:
    directory = tmp_path / "broker"
    init = subprocess.run([sys.executable, "-m", "kiosk_app", "hq", "init-broker", "--dir", str(directory),
                           "--name", "HQ", "--host", "127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    result = subprocess.run([sys.executable, "-m", "kiosk_app", "hq", "provision-kiosk", "web", "--store", "online",
                             "--dir", str(directory), "--host", "127.0.0.1"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "store id 'online' is reserved for the API's channels" in result.stderr
    assert not (directory / "passwords").exists() and "online" not in (directory / "accounts.json").read_text()
