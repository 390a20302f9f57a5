"""Broker security against a real Mosquitto: TLS with the store's CA, per-kiosk
credentials, and an ACL that confines each kiosk to its own topics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import BrokerUrl
from hq import BrokerSecurity, Credentials, mosquitto_password_hash, write_credentials_folder
from kiosk_app.demo import free_port
from kiosk_protocol import CARE_RESPONSES_WILDCARD, CareTopics, EventKind, encode_event, kiosk_topics, new_event
from kiosk_protocol.contract import MAX_PACKET_BYTES
from testkit.broker_client import Client
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE = "madrid-centro"


class Secured:
    def __init__(self, broker: Mosquitto, security: BrokerSecurity, accounts: dict[str, Credentials]) -> None:
        self.broker, self.security, self.accounts = broker, security, accounts

    def url(self, who: str) -> str:
        return self.accounts[who].broker_url("127.0.0.1", self.broker.port, self.security.ca_cert)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    security = BrokerSecurity(tmp_path / "broker-security")
    security.init("Madrid Centro", ["127.0.0.1", "localhost"])
    accounts = {
        "hq": security.provision_service("hq-ingest"),
        "a": security.provision_kiosk(STORE, "kiosk-a"),
        "b": security.provision_kiosk(STORE, "kiosk-b"),
        **{f"hq-{name}": credentials for name, credentials in security.provision_hq(workers=1).items()},
    }
    broker = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    broker.start()
    yield Secured(broker, security, accounts)
    broker.stop()


def _event(kiosk: str) -> bytes:
    return encode_event(new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=kiosk, seq=1,
                                  session=uuid.uuid4(), shopper=None, sku="BOOT-1"))


def test_password_hash_matches_mosquitto_format() -> None:
    entry = mosquitto_password_hash("secret", salt=b"0123456789ab", rounds=101)
    assert entry.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and len(entry.split("$")) == 5


def test_provisioned_kiosk_connects_over_tls(secured: Secured) -> None:
    kiosk = Client(secured.url("a"), "a")
    try:
        assert kiosk.connected.wait(10), kiosk.connack
    finally:
        kiosk.close()


@pytest.mark.parametrize("who", ["anonymous", "wrong password"])
def test_anonymous_and_wrong_passwords_are_refused(secured: Secured, who: str) -> None:
    ca = secured.security.ca_cert
    url = (f"mqtts://127.0.0.1:{secured.broker.port}?ca={ca}" if who == "anonymous"
           else f"mqtts://{STORE}.kiosk-a:guess@127.0.0.1:{secured.broker.port}?ca={ca}")
    client = Client(url, "intruder")
    try:
        eventually(lambda: client.connack)
        assert client.connack and client.connack[0].is_failure  # type: ignore[attr-defined]
        assert not client.connected.is_set()
    finally:
        client.close()


def test_plain_mqtt_to_the_tls_port_gets_nowhere(secured: Secured) -> None:
    client = Client(f"mqtt://{STORE}.kiosk-a:x@127.0.0.1:{secured.broker.port}", "plain")
    try:
        assert not client.connected.wait(2)
    finally:
        client.close()


def test_kiosk_a_cannot_publish_as_kiosk_b(secured: Secured) -> None:
    hq, kiosk_a = Client(secured.url("hq"), "hq-ingest"), Client(secured.url("a"), f"{STORE}.kiosk-a")
    try:
        assert hq.connected.wait(10) and kiosk_a.connected.wait(10)
        hq.client.subscribe("kiosk/+/+/events", qos=1)
        assert eventually(lambda: hq.subacks)
        kiosk_a.client.publish(kiosk_topics(STORE, "kiosk-b").events, _event("kiosk-b"), qos=1).wait_for_publish(5)
        kiosk_a.client.publish(kiosk_topics(STORE, "kiosk-a").events, _event("kiosk-a"), qos=1).wait_for_publish(5)
        # The broker delivers one client's messages in order: had the forged one passed, it
        # would be here before kiosk-a's own.
        assert eventually(lambda: bool(hq.received))
        assert [topic for topic, _ in hq.received] == [kiosk_topics(STORE, "kiosk-a").events]
    finally:
        hq.close()
        kiosk_a.close()


def test_kiosk_a_cannot_read_kiosk_b_s_profile_responses(secured: Secured) -> None:
    hq, kiosk_a = Client(secured.url("hq"), "hq-ingest"), Client(secured.url("a"), f"{STORE}.kiosk-a")
    try:
        assert hq.connected.wait(10) and kiosk_a.connected.wait(10)
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-b").profile_response, qos=1)
        kiosk_a.client.subscribe(kiosk_topics(STORE, "kiosk-a").profile_response, qos=1)
        assert eventually(lambda: len(kiosk_a.subacks) == 2)  # Mosquitto grants it, then filters each delivery
        hq.client.publish(kiosk_topics(STORE, "kiosk-b").profile_response, b"b's profile", qos=1).wait_for_publish(5)
        hq.client.publish(kiosk_topics(STORE, "kiosk-a").profile_response, b"a's profile", qos=1).wait_for_publish(5)
        assert eventually(lambda: bool(kiosk_a.received))  # b's, had it passed, would come first
        assert [payload for _, payload in kiosk_a.received] == [b"a's profile"]
    finally:
        hq.close()
        kiosk_a.close()


def test_kiosk_a_can_neither_answer_nor_hear_kiosk_b_s_remote_care(secured: Secured) -> None:
    """A stolen kiosk login could otherwise send HQ a forged screen or log of another kiosk,
    or see what HQ asks of it."""
    hq, kiosk_a = Client(secured.url("hq-fleet"), "hq-fleet"), Client(secured.url("a"), f"{STORE}.kiosk-a")
    a, b = CareTopics(STORE, "kiosk-a"), CareTopics(STORE, "kiosk-b")
    try:
        assert hq.connected.wait(10) and kiosk_a.connected.wait(10)
        hq.client.subscribe(CARE_RESPONSES_WILDCARD, qos=1)
        kiosk_a.client.subscribe(b.request, qos=1)
        kiosk_a.client.subscribe(a.request, qos=1)
        assert eventually(lambda: len(hq.subacks) == 1 and len(kiosk_a.subacks) == 2)
        kiosk_a.client.publish(b.response, b"b's forged screen", qos=1).wait_for_publish(5)
        kiosk_a.client.publish(a.response, b"a's screen", qos=1).wait_for_publish(5)
        hq.client.publish(b.request, b"b's question", qos=1).wait_for_publish(5)
        hq.client.publish(a.request, b"a's question", qos=1).wait_for_publish(5)
        # One client's messages arrive in order: had the forged ones passed, they would come first.
        assert eventually(lambda: bool(hq.received) and bool(kiosk_a.received))
        assert hq.received == [(a.response, b"a's screen")]
        assert kiosk_a.received == [(a.request, b"a's question")]
    finally:
        hq.close()
        kiosk_a.close()


def test_a_stolen_kiosk_login_can_neither_set_nor_read_another_s_software_release(secured: Secured) -> None:
    """A kiosk reads the release HQ's rollout chose for it: its own topic only, and never writes
    there (a retained empty message of its own would block every release sent it)."""
    hq, kiosk_a = Client(secured.url("hq-fleet"), "hq-fleet"), Client(secured.url("a"), f"{STORE}.kiosk-a")
    a, b = kiosk_topics(STORE, "kiosk-a"), kiosk_topics(STORE, "kiosk-b")
    try:
        assert hq.connected.wait(10) and kiosk_a.connected.wait(10)
        hq.client.subscribe("kiosk/+/+/software", qos=1)
        hq.client.subscribe(a.status, qos=1)
        kiosk_a.client.subscribe(b.software, qos=1)
        kiosk_a.client.subscribe(a.software, qos=1)
        assert eventually(lambda: len(hq.subacks) == 2 and len(kiosk_a.subacks) == 2)
        for topic in (a.software, b.software):
            kiosk_a.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        kiosk_a.client.publish(a.status, b"a's status", qos=1).wait_for_publish(5)
        hq.client.publish(b.software, b"b's release", qos=1, retain=True).wait_for_publish(5)
        hq.client.publish(a.software, b"a's release", qos=1, retain=True).wait_for_publish(5)
        # One client's messages arrive in order: had the forged ones passed, they would come first.
        assert eventually(lambda: (a.status, b"a's status") in hq.received and bool(kiosk_a.received))
        assert hq.received[0] == (a.status, b"a's status")
        assert b"" not in [payload for _, payload in hq.received]
        assert kiosk_a.received == [(a.software, b"a's release")]
    finally:
        hq.close()
        kiosk_a.close()


def test_reprovisioning_a_lost_kiosk_revokes_its_old_password(secured: Secured) -> None:
    old_url = secured.url("a")
    secured.security.provision_kiosk(STORE, "kiosk-a")
    secured.broker.stop()
    secured.broker.start()
    client = Client(old_url, f"{STORE}.kiosk-a")
    try:
        eventually(lambda: client.connack)
        assert client.connack and client.connack[0].is_failure  # type: ignore[attr-defined]
    finally:
        client.close()


def test_provisioned_kiosk_and_hq_sync_over_tls(secured: Secured, sqlite_url: str, tmp_path: Path) -> None:
    from backend_sync import KioskLink, Outbox
    from hq import IngestWorker, ProfileStore

    hq = IngestWorker(secured.url("hq"), ProfileStore(sqlite_url), worker_id="hq-ingest")
    hq.start()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    link = KioskLink(secured.url("a"), STORE, "kiosk-a", outbox)
    try:
        assert hq.subscribed.wait(10)
        outbox.enqueue(kiosk_topics(STORE, "kiosk-a").events, lambda seq: _event("kiosk-a"))
        link.start()
        eventually(lambda: hq.store.event_count() == 1 and len(outbox) == 0, 15)
        assert hq.store.event_count() == 1 and len(outbox) == 0
    finally:
        link.stop()
        hq.stop()
        hq.store.close()


def test_provisioning_before_the_ca_exists_is_a_clear_error(tmp_path: Path) -> None:
    from hq import CredentialsError

    with pytest.raises(CredentialsError, match="init-broker"):
        BrokerSecurity(tmp_path).provision_kiosk(STORE, "kiosk-a")


def _events(kiosk: str, count: int) -> list[bytes]:
    return [encode_event(new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=kiosk, seq=seq,
                                   session=uuid.uuid4(), shopper=None, sku="BOOT-1")) for seq in range(1, count + 1)]


def test_the_generated_config_binds_client_ids_to_usernames() -> None:
    conf = BrokerSecurity(Path("/broker")).mosquitto_conf(8883)
    assert "use_username_as_clientid true" in conf.splitlines()
    assert f"max_packet_size {MAX_PACKET_BYTES}" in conf.splitlines()


def test_a_kiosk_claiming_hq_s_client_id_neither_kicks_hq_off_nor_gets_its_events(
        secured: Secured, sqlite_url: str, tmp_path: Path) -> None:
    from backend_sync import KioskLink, Outbox
    from hq import IngestWorker, ProfileStore

    hq = IngestWorker(secured.url("hq-ingest-1"), ProfileStore(sqlite_url), worker_id="hq-ingest-1")
    hq.start()
    squatter = Client(secured.url("a"), "hq-ingest-1")  # kiosk A's own login, HQ's client id
    outbox = Outbox(tmp_path / "outbox.sqlite")
    link = KioskLink(secured.url("b"), STORE, "kiosk-b", outbox)
    try:
        assert hq.subscribed.wait(10)
        assert squatter.connected.wait(10), squatter.connack  # let in, as itself
        for payload in _events("kiosk-b", 20):
            outbox.enqueue(kiosk_topics(STORE, "kiosk-b").events, lambda seq, payload=payload: payload)
        link.start()
        assert eventually(lambda: hq.store.event_count() == 20 and len(outbox) == 0, 30), hq.stats
        # The squatter inherited no session: it got none of HQ's events and was never refused.
        assert squatter.received == [] and squatter.client.is_connected()
        assert hq.stats.stored == 20
    finally:
        link.stop()
        squatter.close()
        hq.stop()
        hq.store.close()


def _a_profile(db_url: str, shopper: str) -> None:
    """Give ``shopper`` a profile at HQ (a consent through the API), so there is one to erase."""
    from fastapi.testclient import TestClient

    from hq import ApiKeys, ProfileStore, create_app

    store = ProfileStore(db_url)
    try:
        with TestClient(create_app(store, ApiKeys({"web": "web-key-0123456789abcdef"}))) as client:
            answer = client.put(f"/v1/shoppers/{shopper}/consent", json={"status": "granted"},
                                headers={"X-Api-Key": "web-key-0123456789abcdef"})
            assert answer.status_code == 200, answer.text
    finally:
        store.close()


def test_an_erase_tells_the_fleet_through_the_responder_without_pushing_it_off(
        secured: Secured, sqlite_url: str, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    import json
    import urllib.request

    from backend_sync import KioskLink, Outbox
    from hq import ApiKeys, ApiServer, ProfileResponder, ProfileStore, create_app
    from kiosk_protocol import Role, issue_token, public_key_from_pem
    from kiosk_protocol._cards import card_verifier
    from kiosk_protocol.contract import FLEET_COMMANDS

    store = ProfileStore(sqlite_url)
    responder = ProfileResponder(secured.url("hq-profiles"), store,
                                 card_verifier(public_key_from_pem(hq_key[1].read_bytes())))
    responder.start()
    kiosk = Client(secured.url("a"), f"{STORE}.kiosk-a")
    link = KioskLink(secured.url("b"), STORE, "kiosk-b", Outbox(tmp_path / "outbox.sqlite"))
    api = ApiServer(create_app(store, ApiKeys({"web": "web-key-0123456789abcdef"}), responder=responder),
                    port=free_port())
    api.start()
    try:
        assert responder.subscribed.wait(10) and kiosk.connected.wait(10)
        kiosk.client.subscribe(FLEET_COMMANDS, qos=1)
        assert eventually(lambda: kiosk.subacks)
        for n in range(3):
            _a_profile(sqlite_url, f"shopper-{n}")
            erase = urllib.request.Request(f"{api.url}/v1/shoppers/shopper-{n}", method="DELETE",
                                           headers={"X-Api-Key": "web-key-0123456789abcdef"})
            with urllib.request.urlopen(erase, timeout=10) as answer:
                assert json.load(answer)["fleet_told"] is True
        assert eventually(lambda: len(kiosk.received) == 3)
        # A request after the erases reaches the responder on the connection it then has: had
        # an erase pushed it off, it would have connected again to answer.
        link.start()
        assert link.subscribed.wait(10)
        token = issue_token(hq_key[0], "shopper-9", Role.SHOPPER, 60)
        assert link.request_profile("shopper-9", token, timeout_s=10) is not None
        assert responder.stats.connects == 1
    finally:
        api.stop()
        link.stop()
        kiosk.close()
        responder.stop()
        store.close()


def test_the_broker_refuses_a_20_mb_event_and_a_20_mb_retained_status(secured: Secured, sqlite_url: str) -> None:
    from hq import IngestWorker, ProfileStore

    hq = IngestWorker(secured.url("hq-ingest-1"), ProfileStore(sqlite_url), worker_id="hq-ingest-1")
    hq.start()
    try:
        assert hq.subscribed.wait(10)
        topics = kiosk_topics(STORE, "kiosk-a")
        for topic, retain in ((topics.events, False), (topics.status, True)):
            attacker = Client(secured.url("a"), "a")
            assert attacker.connected.wait(10)
            info = attacker.client.publish(topic, b"x" * 20_000_000, qos=1, retain=retain)
            assert attacker.disconnected.wait(30)  # the broker drops the connection, unread
            attacker.close()
            assert not info.is_published()
        # A fresh view of every status gets no retained 20 MB: the broker sends retained
        # messages on subscribing, before anything published after the SUBACK.
        viewer = Client(secured.url("hq-fleet"), "hq-fleet")
        try:
            assert viewer.connected.wait(10)
            viewer.client.subscribe("kiosk/+/+/status", qos=1)
            assert eventually(lambda: viewer.subacks)
            viewer.client.publish(kiosk_topics(STORE, "probe").status, b"probe", qos=1).wait_for_publish(5)
            assert eventually(lambda: viewer.received)
            assert viewer.received == [(kiosk_topics(STORE, "probe").status, b"probe")]
        finally:
            viewer.close()
        # Nor did the event reach HQ: a valid one sent after it is all HQ has seen.
        kiosk = Client(secured.url("a"), "a")
        try:
            assert kiosk.connected.wait(10)
            kiosk.client.publish(topics.events, _event("kiosk-a"), qos=1).wait_for_publish(5)
            assert eventually(lambda: hq.stats.stored == 1)
            assert (hq.stats.rejected, hq.stats.oversized) == (0, 0)
        finally:
            kiosk.close()
    finally:
        hq.stop()
        hq.store.close()


def test_hq_and_the_fleet_view_refuse_messages_over_their_kind_s_limit_unread(
        secured: Secured, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    from hq import FleetView, IngestWorker, ProfileResponder, ProfileStore
    from kiosk_protocol import KioskStatus, LinkState, ProfileRequest, TapEvent, decode_event, public_key_from_pem
    from kiosk_protocol._cards import card_verifier
    from kiosk_protocol.contract import size_limit

    hq = IngestWorker(secured.url("hq-ingest-1"), ProfileStore(sqlite_url), worker_id="hq-ingest-1")
    hq.start()
    responder = ProfileResponder(secured.url("hq-profiles"), hq.store,
                                 card_verifier(public_key_from_pem(hq_key[1].read_bytes())))
    responder.start()
    view = FleetView(secured.url("hq-fleet"))
    view.start()
    kiosk = Client(secured.url("a"), "a")
    topics = kiosk_topics(STORE, "kiosk-a")
    try:
        assert hq.subscribed.wait(10) and view.subscribed.wait(10) and responder.subscribed.wait(10)
        assert kiosk.connected.wait(10)
        request = ProfileRequest(request_id=uuid.uuid4(), shopper="shopper-1", token="t").model_dump_json().encode()
        kiosk.client.publish(topics.profile_request, b" " * size_limit(ProfileRequest) + request,
                             qos=1).wait_for_publish(5)
        assert eventually(lambda: responder.stats.oversized == 1)
        assert (responder.stats.rejected, responder.stats.refused) == (1, 0)
        # Valid messages padded with whitespace past their kind's limit (JSON would take them),
        # well under the broker's limit.
        event = _event("kiosk-a")
        padded_event = b" " * size_limit(TapEvent) + event
        assert decode_event(padded_event.strip()).kiosk == "kiosk-a" and len(padded_event) < MAX_PACKET_BYTES
        status = KioskStatus(state=LinkState.ONLINE, store=STORE, kiosk="kiosk-a",
                             at=datetime.now(UTC)).model_dump_json().encode()
        kiosk.client.publish(topics.events, padded_event, qos=1).wait_for_publish(5)
        kiosk.client.publish(topics.status, b" " * size_limit(KioskStatus) + status, qos=1).wait_for_publish(5)
        assert eventually(lambda: hq.stats.oversized == 1 and view.oversized == 1)
        assert (hq.stats.rejected, hq.stats.stored, view.rejected) == (1, 0, 1)
        assert view.kiosk(STORE, "kiosk-a") is None
        # Nothing else is lost: the same messages at their own size go through.
        kiosk.client.publish(topics.events, event, qos=1).wait_for_publish(5)
        kiosk.client.publish(topics.status, status, qos=1).wait_for_publish(5)
        assert eventually(lambda: hq.stats.stored == 1 and view.kiosk(STORE, "kiosk-a") is not None)
    finally:
        kiosk.close()
        view.stop()
        responder.stop()
        hq.stop()
        hq.store.close()


KIOSK = [sys.executable, "-m", "kiosk_app"]


def _start_hq(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], list[str]]:
    """``kiosk -v hq serve ARGS`` until its API is up; returns it and what it printed so far."""
    child = subprocess.Popen([*KIOSK, "-v", "hq", "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env={**os.environ, **(env or {})})
    assert child.stdout is not None
    lines: list[str] = []
    while not lines or "HQ API on" not in lines[-1]:
        line = child.stdout.readline()
        if not line:
            child.wait(10)
            pytest.fail(f"kiosk hq serve exited ({child.returncode}):\n{''.join(lines)}")
        lines.append(line)
    return child, lines


def _command_lines(pid: int) -> list[str]:
    """The command line of ``pid`` and of each of its children (HQ's ingest worker processes)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # a process that ended meanwhile
            continue
    return [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode() for p in pids]


def _stop_hq(child: subprocess.Popen[str], lines: list[str]) -> str:
    child.send_signal(signal.SIGINT)
    rest, _ = child.communicate(timeout=60)
    return "".join(lines) + rest


def _hq_files(tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path], db_url: str) -> list[str]:
    keys = tmp_path / "api-keys.json"
    keys.write_text('{"hq": "hq-key-0123456789abcdef"}')
    db_file = tmp_path / "db.url"
    db_file.write_text(db_url + "\n")
    db_file.chmod(0o600)
    return ["--hq-key", str(hq_key[1]), "--api-port", str(free_port()), "--api-keys", str(keys)]


def test_hq_serve_from_a_credentials_folder_shows_no_password_anywhere(
        secured: Secured, postgres_url: str, tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    credentials = secured.security.provision_hq(workers=2)
    secured.broker.stop()
    secured.broker.start()  # Mosquitto reads the new password file
    folder = tmp_path / "hq-credentials"
    files = write_credentials_folder(folder, {name: c.broker_url("127.0.0.1", secured.broker.port,
                                                                  secured.security.ca_cert)
                                              for name, c in credentials.items()})
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in files) and folder.stat().st_mode & 0o777 == 0o700
    args = [*_hq_files(tmp_path, hq_key, postgres_url), "--broker-credentials", str(folder),
            "--db-url-file", str(tmp_path / "db.url"), "--workers", "2"]
    child, lines = _start_hq(args)
    try:
        command_lines = _command_lines(child.pid)
    finally:
        output = _stop_hq(child, lines)
    secrets = [c.password for c in credentials.values()] + [":kiosk_test@"]
    assert len(command_lines) >= 3, command_lines  # HQ and its two ingest workers
    for text in [output, *command_lines]:
        assert not [secret for secret in secrets if secret in text], text
    assert "HQ ingest ready (mqtts://hq-profiles@127.0.0.1" in output and "kiosk_test:***@" in output
    assert "warning" not in output


@pytest.mark.parametrize("how", ["url files", "environment", "command line"])
def test_hq_serve_keeps_passwords_off_its_command_line_and_out_of_its_output(
        how: str, mosquitto: Mosquitto, postgres_url: str, tmp_path: Path,
        hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    password = f"broker-secret-{uuid.uuid4().hex}"
    broker_url = f"mqtt://hq:{password}@127.0.0.1:{mosquitto.port}"  # this broker lets anyone in
    args, env = _hq_files(tmp_path, hq_key, postgres_url), {}
    if how == "url files":
        (tmp_path / "broker.url").write_text(broker_url)
        args += ["--broker-url-file", str(tmp_path / "broker.url"), "--db-url-file", str(tmp_path / "db.url")]
    elif how == "environment":
        env = {"KIOSK_BROKER_URL": broker_url, "KIOSK_DB_URL": postgres_url}
    else:
        args += ["--broker", broker_url, "--db-url-file", str(tmp_path / "db.url")]
    child, lines = _start_hq(args, env)
    try:
        command_line = _command_lines(child.pid)[0]
    finally:
        output = _stop_hq(child, lines)
    assert password not in output and ":kiosk_test@" not in output, output
    assert "HQ ingest ready (mqtt://hq@127.0.0.1" in output
    if how == "command line":  # the operator's own choice, but they are told
        assert password in command_line and "warning: --broker holds a password" in output
    else:
        assert password not in command_line and ":kiosk_test@" not in command_line
        assert "warning: --broker" not in output


def test_erase_profile_tells_the_fleet_with_hq_s_admin_login_from_files(
        secured: Secured, sqlite_url: str, tmp_path: Path) -> None:
    kiosk = Client(secured.url("a"), "a")
    admin = tmp_path / "admin.url"
    admin.write_text(secured.url("hq-admin"))
    db = tmp_path / "db.url"
    db.write_text(sqlite_url)
    try:
        assert kiosk.connected.wait(10)
        kiosk.client.subscribe("fleet/commands", qos=1)
        assert eventually(lambda: kiosk.subacks)
        _a_profile(sqlite_url, "shopper-1")
        result = subprocess.run([*KIOSK, "hq", "erase-profile", "shopper-1", "--broker-url-file", str(admin),
                                 "--db-url-file", str(db)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "every kiosk told to forget them" in result.stdout
        assert secured.accounts["hq-admin"].password not in result.stdout + result.stderr
        assert eventually(lambda: kiosk.received)
    finally:
        kiosk.close()


def test_provisioning_writes_credentials_to_owner_only_files_and_prints_no_password(tmp_path: Path) -> None:
    broker_dir, folder, kiosk_file = tmp_path / "broker", tmp_path / "hq-credentials", tmp_path / "kiosk-01.url"
    runs = [
        [*KIOSK, "hq", "init-broker", "--dir", str(broker_dir), "--name", "Madrid", "--host", "127.0.0.1"],
        [*KIOSK, "hq", "provision-hq", "--dir", str(broker_dir), "--host", "127.0.0.1", "--workers", "2",
         "--credentials", str(folder)],
        [*KIOSK, "hq", "provision-kiosk", "kiosk-01", "--store", STORE, "--dir", str(broker_dir), "--host",
         "127.0.0.1", "--out", str(kiosk_file)],
    ]
    printed = ""
    for args in runs:
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        printed += result.stdout + result.stderr
    assert "use_username_as_clientid true" in printed
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["admin.url", "fleet.url", "ingest-1.url", "ingest-2.url", "profiles.url"]
    for path in [*files, kiosk_file]:
        url = BrokerUrl.parse(path.read_text().strip())
        assert path.stat().st_mode & 0o777 == 0o600 and url.password and url.password not in printed
    assert BrokerUrl.parse((folder / "ingest-2.url").read_text().strip()).username == "hq-ingest-2"
    assert BrokerUrl.parse(kiosk_file.read_text().strip()).username == f"{STORE}.kiosk-01"


def test_a_url_and_its_url_file_together_or_an_empty_url_file_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "db.url"
    empty.touch(mode=0o600)
    both = subprocess.run([*KIOSK, "hq", "export-profile", "s", "--db", "sqlite:///x", "--db-url-file", str(empty)],
                          capture_output=True, text=True, timeout=60)
    assert both.returncode == 2 and "give --db or --db-url-file, not both" in both.stderr
    nothing = subprocess.run([*KIOSK, "hq", "export-profile", "s", "--db-url-file", str(empty)],
                             capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 2 and "must hold exactly one URL" in nothing.stderr
