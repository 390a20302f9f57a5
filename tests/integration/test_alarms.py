"""Alarms with real parts: kiosk statuses through a real Mosquitto to HQ's fleet view, the alarm
log on SQLite or PostgreSQL, notices to a real webhook receiver (Standard Webhooks signatures
checked) and a real SMTP server (aiosmtpd). A problem that outlasts its grace is raised to its
store's routes, and its clearing follows; a kiosk switched off after closing raises nothing."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from hq import (
    EVERY_STORE,
    AlarmDelivery,
    AlarmKind,
    AlarmWatch,
    AlarmWatchStats,
    DeliveryPolicy,
    FleetView,
    ProfileStore,
    SmtpServer,
)
from hq._provision import BrokerSecurity
from hq._webhooks import new_secret
from kiosk_app.cli import main
from kiosk_app.demo import free_port
from kiosk_protocol import LinkState, Store
from testkit.fleet_status import leave
from testkit.fleet_status import report as publish_status
from testkit.mosquitto import Mosquitto
from testkit.smtp import Inbox
from testkit.waiting import eventually
from testkit.webhooks import Answer, WebhookReceiver

STORE, OTHER, KIOSK = "madrid-centro", "barcelona-diagonal", "kiosk-01"
EVERY_DAY = {day: [{"opens": "09:00", "closes": "21:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
MADRID = Store.model_validate({"id": STORE, "name": "Madrid Centro", "time_zone": "Europe/Madrid",
                               "opening_hours": EVERY_DAY})
QUICK = DeliveryPolicy(timeout_s=5.0, first_retry_s=0.05, max_retry_s=0.2, max_attempts=3)
MONDAY_NOON = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 12:00 in Madrid


class Clock:
    """The watch's clock, moved by the test instead of waiting for a grace or a store to open."""

    def __init__(self, at: datetime = MONDAY_NOON) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Hq:
    store: ProfileStore
    fleet: FleetView
    clock: Clock
    watch: AlarmWatch

    def settle(self) -> None:
        """Two alert rounds of the fleet view: it has heard the fleet, and may clear alarms."""
        self.fleet.recheck()
        self.fleet.recheck()
        assert self.fleet.settled.is_set()


def hq_on(db_url: str, broker: str, clock: Clock, raise_after_s: float = 60.0) -> Hq:
    store = ProfileStore(db_url)
    fleet = FleetView(broker)
    fleet.start()
    assert fleet.subscribed.wait(10)
    return Hq(store, fleet, clock, AlarmWatch(store.alarms, fleet, lambda: [MADRID], raise_after_s=raise_after_s,
                                              clock=clock))


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str) -> Iterator[Hq]:
    parts = hq_on(sqlite_url, mosquitto.url, Clock())
    yield parts
    parts.fleet.stop()
    parts.store.close()


def report(broker: Mosquitto, store: str = STORE, kiosk: str = KIOSK, state: LinkState = LinkState.ONLINE,
           reader: str = "online") -> None:
    publish_status(broker.port, store, kiosk, state, reader)


def heard(hq: Hq, reader: str, store: str = STORE) -> None:
    assert eventually(lambda: (view := hq.fleet.kiosk(store, KIOSK)) is not None and view.status.reader == reader)


def lost_reader(hq: Hq, mosquitto: Mosquitto) -> None:
    """The kiosk's reader goes offline and stays so past the grace: its alarm is raised."""
    report(mosquitto, reader="offline")
    heard(hq, "offline")
    hq.watch.round()
    hq.clock.at += timedelta(seconds=61)
    hq.watch.round()


def open_kinds(hq: Hq) -> set[AlarmKind]:
    return {key.kind for key in hq.store.alarms.open_alarms()}


def test_a_lasting_problem_is_raised_to_the_stores_webhook_and_email_and_so_is_its_clearing(
        hq: Hq, mosquitto: Mosquitto) -> None:
    secret = new_secret()
    receiver, elsewhere = WebhookReceiver(secret).start(), WebhookReceiver(secret).start()
    inbox = Inbox(login=("hq-alarms", "s3cret pass")).start()
    hook = hq.store.alarms.add_route(STORE, webhook_url=receiver.url, secret=secret)
    mail = hq.store.alarms.add_route(STORE, email="manager@madrid.example")
    hq.store.alarms.add_route(OTHER, webhook_url=elsewhere.url, secret=secret)
    smtp = SmtpServer.from_url(f"smtp://hq-alarms:s3cret%20pass@127.0.0.1:{inbox.port}", "hq@shop.example")
    delivery = AlarmDelivery(hq.store.alarms, smtp, QUICK, lambda: [MADRID], poll_s=0.02)
    delivery.start()
    try:
        report(mosquitto, reader="offline")
        heard(hq, "offline")
        hq.watch.round()
        assert open_kinds(hq) == set()  # within its grace: a reader replugged raises nothing
        hq.clock.at += timedelta(seconds=61)
        hq.watch.round()
        [alarm] = hq.store.alarms.open_alarms().values()
        assert (alarm.key.store, alarm.key.kiosk, alarm.key.kind) == (STORE, KIOSK, AlarmKind.READER_OFFLINE)

        assert receiver.wait_for(lambda: len(receiver.delivered()) == 1)
        [raised] = receiver.delivered()
        assert raised["type"] == "alarm.raised"
        assert raised["data"] == {"alarm": alarm.id, "store": STORE, "kiosk": KIOSK, "kind": "reader_offline",
                                  "message": "NFC reader is offline", "raised_at": alarm.raised_at.isoformat(),
                                  "cleared_at": None}
        assert inbox.wait_for(lambda: len(inbox.messages) == 1)
        [email] = inbox.messages
        assert email["Subject"] == "Alarm: madrid-centro, kiosk-01: NFC reader is offline"
        assert inbox.recipients == [["manager@madrid.example"]] and inbox.logins == ["hq-alarms"]
        assert "Raised: 2026-12-07 12:01:01 CET" in email.get_content()  # on the store's clock

        report(mosquitto, reader="online")
        heard(hq, "online")
        hq.settle()
        hq.clock.at += timedelta(minutes=5)
        hq.watch.round()
        assert open_kinds(hq) == set()
        assert receiver.wait_for(lambda: len(receiver.delivered()) == 2)
        cleared = receiver.delivered()[1]
        assert cleared["type"] == "alarm.cleared"
        assert cleared["data"]["cleared_at"] == (alarm.raised_at + timedelta(minutes=5)).isoformat()
        assert receiver.attempts[1].webhook_id == f"alarm_{alarm.id}_cleared"
        assert inbox.wait_for(lambda: len(inbox.messages) == 2)
        assert inbox.messages[1]["Subject"] == "Cleared: madrid-centro, kiosk-01: NFC reader is offline"
        assert "Cleared: 2026-12-07 12:06:01 CET, after 5 min" in inbox.messages[1].get_content()
    finally:
        delivery.stop()
        receiver.stop()
        elsewhere.stop()
        inbox.stop()
    notices = hq.store.alarms.notices(alarm.id)
    assert {(n.route, n.event.value, n.state) for n in notices} == {
        (hook.id, "raised", "sent"), (hook.id, "cleared", "sent"), (mail.id, "raised", "sent"),
        (mail.id, "cleared", "sent")}
    assert elsewhere.attempts == []  # another store's route hears nothing of Madrid


def test_each_of_a_kiosks_problems_is_an_alarm_of_its_own(hq: Hq, mosquitto: Mosquitto) -> None:
    publish_status(mosquitto.port, STORE, KIOSK, reader="offline", backlog=900, disk_free_mb=120,
                   update_problem="signature does not verify")
    heard(hq, "offline")
    hq.watch.round()
    hq.clock.at += timedelta(seconds=61)
    hq.watch.round()

    assert open_kinds(hq) == {AlarmKind.READER_OFFLINE, AlarmKind.BACKLOG_HIGH, AlarmKind.DISK_LOW,
                              AlarmKind.UPDATE_FAILED}
    publish_status(mosquitto.port, STORE, KIOSK, reader="offline", disk_free_mb=120)
    assert eventually(lambda: (view := hq.fleet.kiosk(STORE, KIOSK)) is not None and view.status.backlog == 0)
    hq.settle()
    hq.watch.round()
    assert open_kinds(hq) == {AlarmKind.READER_OFFLINE, AlarmKind.DISK_LOW}
    assert hq.watch.stats == AlarmWatchStats(raised=4, cleared=2)


def test_a_kiosk_switched_off_after_closing_raises_nothing_until_its_store_opens(
        hq: Hq, mosquitto: Mosquitto) -> None:
    hq.clock.at = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)  # 22:30 in Madrid: closed
    report(mosquitto, state=LinkState.OFFLINE)
    assert eventually(lambda: (view := hq.fleet.kiosk(STORE, KIOSK)) is not None
                      and view.status.state is LinkState.OFFLINE)
    for _ in range(3):
        hq.watch.round()
        hq.clock.at += timedelta(hours=3)
    assert open_kinds(hq) == set()

    hq.clock.at = datetime(2026, 12, 8, 8, 1, tzinfo=UTC)  # 09:01 on Tuesday: open, and still off
    hq.watch.round()
    hq.clock.at += timedelta(minutes=2)
    hq.watch.round()
    [alarm] = hq.store.alarms.open_alarms().values()
    assert alarm.key.kind is AlarmKind.OFFLINE and alarm.message == "Kiosk is offline"

    hq.settle()
    hq.clock.at = datetime(2026, 12, 8, 20, 30, tzinfo=UTC)  # closed again: the kiosk is no better for it
    hq.watch.round()
    assert open_kinds(hq) == {AlarmKind.OFFLINE}
    report(mosquitto)
    heard(hq, "online")
    hq.watch.round()
    assert open_kinds(hq) == set()
    [logged] = hq.store.alarms.history(STORE)
    assert logged.cleared_at == hq.clock.at


def test_a_fresh_hq_clears_nothing_before_it_has_heard_the_fleet_and_a_kiosk_that_left_clears_its_alarms(
        hq: Hq, mosquitto: Mosquitto) -> None:
    lost_reader(hq, mosquitto)
    assert open_kinds(hq) == {AlarmKind.READER_OFFLINE}
    deaf = FleetView(mosquitto.url)  # another HQ process, not connected yet: it knows no kiosk
    fresh = AlarmWatch(hq.store.alarms, deaf, lambda: [MADRID], clock=hq.clock)
    try:
        fresh.round()
        assert open_kinds(hq) == {AlarmKind.READER_OFFLINE}
        deaf.start()
        assert deaf.subscribed.wait(10)
        assert eventually(lambda: deaf.kiosk(STORE, KIOSK) is not None)
        deaf.recheck()
        deaf.recheck()
        fresh.round()
        assert open_kinds(hq) == {AlarmKind.READER_OFFLINE}  # heard, and still a problem

        leave(mosquitto.port, STORE, KIOSK)
        assert eventually(lambda: deaf.kiosk(STORE, KIOSK) is None)  # the kiosk left the fleet
        fresh.round()
        assert open_kinds(hq) == set()
    finally:
        deaf.stop()


def test_two_hq_processes_raise_an_alarm_once_and_send_each_notice_once(
        mosquitto: Mosquitto, postgres_url: str) -> None:
    secret = new_secret()
    receiver = WebhookReceiver(secret).start()
    clock = Clock()
    first, second = (hq_on(postgres_url, mosquitto.url, clock, raise_after_s=0) for _ in range(2))
    first.store.alarms.add_route(EVERY_STORE, webhook_url=receiver.url, secret=secret)
    deliveries = [AlarmDelivery(parts.store.alarms, None, QUICK, poll_s=0.01) for parts in (first, second)]
    try:
        report(mosquitto, reader="offline")
        heard(first, "offline")
        heard(second, "offline")
        go = threading.Barrier(2)

        def watch_round(parts: Hq) -> None:
            go.wait(5)
            parts.watch.round()

        rounds = [threading.Thread(target=watch_round, args=(parts,)) for parts in (first, second)]
        for thread in rounds:
            thread.start()
        for thread in rounds:
            thread.join(10)
        assert len(first.store.alarms.history()) == 1
        assert first.watch.stats.raised + second.watch.stats.raised == 1
        for delivery in deliveries:
            delivery.start()
        [alarm] = first.store.alarms.history()
        assert eventually(lambda: [n.state for n in first.store.alarms.notices(alarm.id)] == ["sent"])
        assert len(receiver.attempts) == 1  # sent: no process claims it again
    finally:
        for delivery in deliveries:
            delivery.stop()
        receiver.stop()
        for parts in (first, second):
            parts.fleet.stop()
            parts.store.close()


def test_a_failing_receiver_is_tried_again_a_refusing_one_given_up_and_the_clearing_waits_its_turn(
        hq: Hq, mosquitto: Mosquitto) -> None:
    secret = new_secret()
    receiver = WebhookReceiver(secret).start()
    answers = iter([Answer(503), Answer(410)])
    receiver.answer = lambda attempt: next(answers, Answer(204))
    inbox = Inbox().start()
    inbox.answer_rcpt = lambda address: "550 5.1.1 no such mailbox" if address.startswith("gone") else "250 OK"
    hook = hq.store.alarms.add_route(STORE, webhook_url=receiver.url, secret=secret)
    hq.store.alarms.add_route(STORE, email="gone@madrid.example")
    hq.store.alarms.add_route(STORE, email="manager@madrid.example")
    delivery = AlarmDelivery(hq.store.alarms, SmtpServer.from_url(f"smtp://localhost:{inbox.port}", "hq@shop.example"),
                             QUICK, poll_s=0.02)
    lost_reader(hq, mosquitto)
    [alarm] = hq.store.alarms.open_alarms().values()
    report(mosquitto, reader="online")
    heard(hq, "online")
    hq.settle()
    hq.watch.round()  # cleared before any notice went: the clearing must follow the raising
    delivery.start()
    try:
        assert receiver.wait_for(lambda: len(receiver.delivered()) == 1)
        assert inbox.wait_for(lambda: len(inbox.messages) == 2)
    finally:
        delivery.stop()
        receiver.stop()
        inbox.stop()
    assert [(a.answered, a.webhook_id) for a in receiver.attempts] == [
        (503, f"alarm_{alarm.id}_raised"), (410, f"alarm_{alarm.id}_raised"), (204, f"alarm_{alarm.id}_cleared")]
    states = {(n.route, n.event.value): (n.state, n.attempts, n.problem) for n in hq.store.alarms.notices(alarm.id)}
    assert states[(hook.id, "raised")] == ("parked", 2, "answered 410 Gone")
    assert states[(hook.id, "cleared")] == ("sent", 1, None)
    refused = [state for (route, event), state in states.items() if route == hook.id + 1]
    assert refused == [("parked", 1, "the SMTP server refused gone@madrid.example: 550 5.1.1 no such mailbox")] * 2
    assert [m["Subject"].split(":")[0] for m in inbox.messages] == ["Alarm", "Cleared"]
    assert delivery.stats.parked == 3 and delivery.stats.retried == 1


def _this_hosts_address() -> str:
    """An address of this host that is not loopback: SMTP to it counts as crossing a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("198.51.100.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = str(probe.getsockname()[0])
    assert not address.startswith("127."), "this host has no address but loopback"
    return address


def test_no_alarm_or_password_crosses_a_network_without_tls(
        hq: Hq, mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = _this_hosts_address()
    hq.store.alarms.add_route(STORE, email="manager@madrid.example")
    plain = Inbox(address, login=("hq-alarms", "pw")).start()
    lost_reader(hq, mosquitto)
    [alarm] = hq.store.alarms.open_alarms().values()
    delivery = AlarmDelivery(hq.store.alarms, SmtpServer.from_url(f"smtp://hq-alarms:pw@{address}:{plain.port}",
                                                                  "hq@shop.example"), QUICK)
    try:
        assert delivery.send_due() == 1
    finally:
        plain.stop()
    [notice] = hq.store.alarms.notices(alarm.id)
    assert notice.state == "waiting" and "offers no STARTTLS" in (notice.problem or "")
    assert plain.messages == [] and plain.logins == [] and plain.refused_logins == 0

    tls = BrokerSecurity(tmp_path / "pki")
    tls.init("smtp", [address])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_cert))  # HQ trusts the relay's CA, as an operator sets it
    secure = Inbox(address, login=("hq-alarms", "pw"), tls=context).start()
    delivery = AlarmDelivery(hq.store.alarms, SmtpServer.from_url(f"smtp://hq-alarms:pw@{address}:{secure.port}",
                                                                  "hq@shop.example"), QUICK, poll_s=0.02)
    hq.store.alarms.retry_now(alarm.id)
    delivery.start()
    try:
        assert secure.wait_for(lambda: len(secure.messages) == 1)
    finally:
        delivery.stop()
        secure.stop()
    assert secure.logins == ["hq-alarms"] and secure.over_tls == [True]


def test_routes_and_the_log_from_the_command_line(hq: Hq, mosquitto: Mosquitto, sqlite_url: str,
                                                  tmp_path: Path) -> None:
    runner = CliRunner()
    secret_file = tmp_path / "alarm-secret"
    added = runner.invoke(main, ["hq", "alarms", "add-route", "--store", STORE, "--webhook",
                                 "https://ops.shop.example/alarms", "--secret-out", str(secret_file),
                                 "--db", sqlite_url])
    assert added.exit_code == 0, added.output
    secret = secret_file.read_text().strip()
    assert secret.startswith("whsec_") and secret not in added.output
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert "route 1: alarms of madrid-centro go to https://ops.shop.example/alarms" in added.output
    mailed = runner.invoke(main, ["hq", "alarms", "add-route", "--store", "*", "--email", "ops@shop.example",
                                  "--db", sqlite_url])
    assert mailed.exit_code == 0 and "alarms of every store go to ops@shop.example" in mailed.output
    for refused, why in [
        (["--store", STORE, "--email", "ops@shop.example\r\nBcc: all@example.com"], "is not an e-mail address"),
        (["--store", STORE, "--email", "Ops <ops@shop.example>"], "is not an e-mail address"),
        (["--store", "Madrid Centro", "--email", "ops@shop.example"], "is not a store id"),
        (["--store", STORE, "--webhook", "http://169.254.169.254/latest", "--secret-out", str(tmp_path / "s2")],
         "does not call 169.254.169.254"),
        (["--store", STORE, "--webhook", "https://ops.shop.example/a", "--secret-out", str(secret_file)], "exists"),
    ]:
        result = runner.invoke(main, ["hq", "alarms", "add-route", *refused, "--db", sqlite_url])
        assert result.exit_code != 0 and why in result.output, result.output
    assert not (tmp_path / "s2").exists()
    assert secret_file.read_text().strip() == secret

    routes = runner.invoke(main, ["hq", "alarms", "routes", "--db", sqlite_url]).output
    assert routes.splitlines() == ["1\tmadrid-centro\twebhook\thttps://ops.shop.example/alarms",
                                   "2\t*\temail\tops@shop.example"]
    assert runner.invoke(main, ["hq", "alarms", "remove-route", "1", "--db", sqlite_url]).exit_code == 0
    gone = runner.invoke(main, ["hq", "alarms", "remove-route", "1", "--db", sqlite_url])
    assert gone.exit_code == 1 and "no alarm route 1" in gone.output

    lost_reader(hq, mosquitto)
    listed = runner.invoke(main, ["hq", "alarms", "list", "--open", "--db", sqlite_url])
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        "#1 madrid-centro/kiosk-01 reader_offline: NFC reader is offline | raised 2026-12-07 11:01:01 UTC, OPEN",
        "    raised to route 2: waiting, 0 attempt(s)"]


def test_hq_serve_raises_alarms_and_mails_them_through_the_smtp_server_of_its_url_file(
        mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[object, Path], tmp_path: Path) -> None:
    inbox = Inbox(login=("hq-alarms", "pw")).start()
    keys_file, smtp_file = tmp_path / "api-keys.json", tmp_path / "smtp-url"
    keys_file.write_text(json.dumps({"hq": "hq-key-0123456789abcdef0"}))
    smtp_file.write_text(f"smtp://hq-alarms:pw@127.0.0.1:{inbox.port}\n")
    smtp_file.chmod(0o600)
    store = ProfileStore(sqlite_url)
    store.alarms.add_route(STORE, email="manager@madrid.example")
    store.close()
    output = (tmp_path / "hq.log").open("w")
    hq = subprocess.Popen(
        [sys.executable, "-m", "kiosk_app", "hq", "serve", "--broker", mosquitto.url, "--db", sqlite_url,
         "--hq-key", str(hq_key[1]), "--api-port", str(free_port()), "--api-keys", str(keys_file),
         "--smtp-url-file", str(smtp_file), "--alarm-from", "alarms@shop.example", "--alarm-after", "0"],
        stdout=output, stderr=subprocess.STDOUT)
    try:
        report(mosquitto, reader="offline")
        assert inbox.wait_for(lambda: len(inbox.messages) == 1, 60), (tmp_path / "hq.log").read_text()
        [email] = inbox.messages
        assert email["From"] == "alarms@shop.example" and email["Subject"].endswith("NFC reader is offline")
        assert inbox.logins == ["hq-alarms"]
        report(mosquitto, reader="online")  # cleared once the fleet view has heard the fleet (two rounds)
        assert inbox.wait_for(lambda: len(inbox.messages) == 2, 60)
        assert inbox.messages[1]["Subject"].startswith("Cleared: ")
    finally:
        hq.send_signal(signal.SIGTERM)
        hq.wait(30)
        output.close()
        inbox.stop()
    log = (tmp_path / "hq.log").read_text()
    assert hq.returncode == 0, log
    assert "alarms: AlarmWatchStats(raised=1, cleared=1" in log and "pw@" not in log
