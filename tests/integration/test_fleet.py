"""The fleet view: alerts and last-seen rules, following real kiosks' retained statuses
through Mosquitto, and the fleet API's keys, sign-in and commands."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from backend_sync import KioskFacts, KioskLink, Outbox
from hq import AlertKind, ApiKeys, FleetThresholds, FleetView, ProfileStore, create_app
from hq._fleet import kiosk_alerts, last_seen_after
from kiosk_protocol import CommandKind, KioskCommand, KioskStatus, LinkState
from kiosk_protocol.contract import decode
from testkit.fleet_status import report
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
AS_HQ, AS_WEB = {"X-Api-Key": KEYS["hq"]}, {"X-Api-Key": KEYS["web"]}
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
THRESHOLDS = FleetThresholds(backlog_high=500, silent_after_s=90)

# (state, reader, backlog, update problem, seconds since last seen) -> alerts
ALERT_CASES = [
    (LinkState.ONLINE, "online", 0, "", 5, []),
    (LinkState.OFFLINE, "online", 0, "", 5, [AlertKind.OFFLINE]),
    (LinkState.OFFLINE, "offline", 0, "", 5, [AlertKind.OFFLINE]),  # an offline kiosk's reader is no news
    (LinkState.ONLINE, "offline", 0, "", 5, [AlertKind.READER_OFFLINE]),
    (LinkState.ONLINE, "unknown", 0, "", 5, []),
    (LinkState.ONLINE, "online", 499, "", 5, []),
    (LinkState.ONLINE, "online", 500, "", 5, [AlertKind.BACKLOG_HIGH]),
    (LinkState.OFFLINE, "online", 900, "", 5, [AlertKind.OFFLINE, AlertKind.BACKLOG_HIGH]),
    (LinkState.ONLINE, "online", 0, "", 91, [AlertKind.SILENT]),
    (LinkState.OFFLINE, "online", 0, "", 3600, [AlertKind.OFFLINE]),
    (LinkState.ONLINE, "online", 0, "signature does not verify", 5, [AlertKind.UPDATE_REFUSED]),
]
LOCKED_CASES = [("", []), ("hq", [AlertKind.LOCKED]), ("staff", [AlertKind.LOCKED])]


def _status(state: LinkState = LinkState.ONLINE, at: datetime = NOW, kiosk: str = "kiosk-01", **facts: object
            ) -> KioskStatus:
    return KioskStatus.model_validate({"state": state, "store": "madrid-centro", "kiosk": kiosk, "at": at, **facts})



@pytest.mark.parametrize(("state", "reader", "backlog", "problem", "age_s", "expected"), ALERT_CASES)
def test_alerts(state: LinkState, reader: str, backlog: int, problem: str, age_s: int,
                expected: list[AlertKind]) -> None:
    status = _status(state, reader=reader, backlog=backlog, update_problem=problem)
    alerts = kiosk_alerts(status, NOW - timedelta(seconds=age_s), NOW, THRESHOLDS)
    assert [alert.kind for alert in alerts] == expected
    assert all(alert.message for alert in alerts)


@pytest.mark.parametrize(("locked", "expected"), LOCKED_CASES)
def test_a_locked_kiosk_is_an_alert_naming_who_locked_it(locked: str, expected: list[AlertKind]) -> None:
    alerts = kiosk_alerts(_status(locked=locked), NOW, NOW, THRESHOLDS)
    assert [alert.kind for alert in alerts] == expected
    assert all(locked in alert.message for alert in alerts)


@pytest.mark.parametrize(("previous_s", "status_s", "state", "live", "expected_s"), [
    (None, -40, LinkState.ONLINE, True, 0),  # a live heartbeat: seen now
    (None, -40, LinkState.ONLINE, False, -40),  # retained, read at start-up: its own time
    (-20, -3600, LinkState.OFFLINE, True, -20),  # a last will holds the connect time: the last heartbeat is better
    (None, -3600, LinkState.OFFLINE, True, -3600),
    (None, 600, LinkState.ONLINE, False, 0),  # a kiosk clock ahead of HQ's is not believed
])
def test_last_seen(previous_s: int | None, status_s: int, state: LinkState, live: bool, expected_s: int) -> None:
    previous = NOW + timedelta(seconds=previous_s) if previous_s is not None else None
    seen = last_seen_after(previous, _status(state, at=NOW + timedelta(seconds=status_s)), NOW, live)
    assert seen == NOW + timedelta(seconds=expected_s)


def test_dashboard_session_tokens_are_signed_and_expire() -> None:
    keys = ApiKeys(KEYS)
    token = keys.session_token("hq", now=1_000)
    assert keys.channel_for_session(token, now=2_000) == "hq"
    assert keys.channel_for_session(token, now=1_000 + 13 * 3600) is None
    forged = token.replace("hq.", "web.", 1)
    assert keys.channel_for_session(forged, now=2_000) is None
    assert keys.channel_for_session(token[:-1] + ("0" if token[-1] != "0" else "1"), now=2_000) is None
    assert ApiKeys({"hq": "another-key-0123456789ab"}).channel_for_session(token, now=2_000) is None
    assert keys.channel_for_session("garbage", now=2_000) is None


@pytest.fixture
def fleet(mosquitto: Mosquitto) -> Iterator[FleetView]:
    view = FleetView(mosquitto.url, thresholds=THRESHOLDS)
    view.start()
    assert view.subscribed.wait(10)
    yield view
    view.stop()


def _publisher(mosquitto: Mosquitto) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    return client


def test_the_fleet_view_follows_real_kiosks_and_learns_retained_ones_at_start(mosquitto: Mosquitto,
                                                                             tmp_path: Path) -> None:
    publisher = _publisher(mosquitto)
    publisher.publish("kiosk/sevilla-nervion/kiosk-09/status", _status(
        LinkState.OFFLINE, kiosk="kiosk-09").model_copy(update={"store": "sevilla-nervion"}).model_dump_json(),
        qos=1, retain=True).wait_for_publish(5)
    view = FleetView(mosquitto.url, thresholds=THRESHOLDS)
    view.start()
    facts = KioskFacts(app_version="1.4.0", catalog_version=7, reader="online")
    link = KioskLink(mosquitto.url, "madrid-centro", "kiosk-01", Outbox(tmp_path / "outbox.sqlite"),
                     facts=lambda: facts)
    try:
        assert eventually(lambda: view.kiosk("sevilla-nervion", "kiosk-09") is not None)  # retained, before we came
        link.start()
        assert eventually(lambda: (k := view.kiosk("madrid-centro", "kiosk-01")) is not None
                          and k.status.state is LinkState.ONLINE)
        online = view.kiosk("madrid-centro", "kiosk-01")
        assert online is not None and (online.status.app_version, online.status.catalog_version) == ("1.4.0", 7)
        assert online.alerts == ()
        link.stop()
        assert eventually(lambda: (k := view.kiosk("madrid-centro", "kiosk-01")) is not None
                          and [a.kind for a in k.alerts] == [AlertKind.OFFLINE])
        assert [k.key for k in view.kiosks()] == [("madrid-centro", "kiosk-01"), ("sevilla-nervion", "kiosk-09")]
        # A status claiming another kiosk is refused; an empty retained status takes a kiosk off the fleet.
        publisher.publish("kiosk/madrid-centro/kiosk-02/status", _status(kiosk="kiosk-03").model_dump_json(), qos=1)
        publisher.publish("kiosk/sevilla-nervion/kiosk-09/status", b"", qos=1, retain=True)
        assert eventually(lambda: view.rejected == 1 and view.kiosk("sevilla-nervion", "kiosk-09") is None)
        assert view.kiosk("madrid-centro", "kiosk-03") is None
    finally:
        view.stop()
        publisher.loop_stop()
        publisher.disconnect()


def test_only_a_fleet_channel_sees_and_commands_the_fleet(mosquitto: Mosquitto, fleet: FleetView,
                                                          sqlite_url: str) -> None:
    api = TestClient(create_app(ProfileStore(sqlite_url), ApiKeys(KEYS), fleet=fleet))
    publisher = _publisher(mosquitto)
    heard: list[tuple[str, KioskCommand, int | None]] = []
    arrived, subscribed = threading.Event(), threading.Event()

    def on_command(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        expiry = getattr(message.properties, "MessageExpiryInterval", None)
        heard.append((message.topic, decode(KioskCommand, bytes(message.payload)), expiry))
        arrived.set()

    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-kiosk", protocol=mqtt.MQTTv5)
    listener.on_message = on_command
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("kiosk/+/+/commands", qos=1)
    listener.loop_start()
    try:
        assert subscribed.wait(10)  # or the command could pass before the kiosk listens
        publisher.publish("kiosk/madrid-centro/kiosk-01/status", _status(at=datetime.now(UTC)).model_dump_json(),
                          qos=1, retain=True)
        assert eventually(lambda: fleet.kiosk("madrid-centro", "kiosk-01") is not None)
        assert api.get("/fleet/api/kiosks").status_code == 401
        assert api.get("/fleet/api/kiosks", headers=AS_WEB).json()["error"] == "forbidden"
        kiosks = api.get("/fleet/api/kiosks", headers=AS_HQ).json()["kiosks"]
        assert [(k["store"], k["kiosk"], k["state"]) for k in kiosks] == [("madrid-centro", "kiosk-01", "online")]

        path = "/fleet/api/kiosks/madrid-centro/kiosk-01/commands"
        assert api.post(path, headers=AS_WEB, json={"command": "lock"}).status_code == 403
        assert api.post(path, headers=AS_HQ, json={"command": "forget_shopper"}).status_code == 422
        unknown = api.post("/fleet/api/kiosks/madrid-centro/kiosk-77/commands", headers=AS_HQ,
                           json={"command": "lock"})
        assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_kiosk")
        sent = api.post(path, headers=AS_HQ, json={"command": "identify"})
        assert sent.status_code == 202 and sent.json()["kiosk_online"] is True
        assert arrived.wait(10)
        assert heard == [("kiosk/madrid-centro/kiosk-01/commands", KioskCommand(command=CommandKind.IDENTIFY), 120)]

        # A browser signs in once with the key and then carries only the cookie.
        assert api.post("/fleet/session", json={"key": KEYS["web"]}).status_code == 401
        signed_in = api.post("/fleet/session", json={"key": KEYS["hq"]})
        assert signed_in.status_code == 204 and "httponly" in signed_in.headers["set-cookie"].lower()
        assert api.get("/fleet/api/kiosks").status_code == 200
        api.delete("/fleet/session")
        assert api.get("/fleet/api/kiosks").status_code == 401
    finally:
        listener.loop_stop()
        listener.disconnect()
        publisher.loop_stop()
        publisher.disconnect()


def test_the_kiosk_list_says_which_software_release_each_kiosk_runs_and_which_failed(
        mosquitto: Mosquitto, fleet: FleetView, sqlite_url: str) -> None:
    api = TestClient(create_app(ProfileStore(sqlite_url), ApiKeys(KEYS), fleet=fleet))
    report(mosquitto.port, "madrid-centro", "kiosk-01", software_release=6, software_failed=7,
           software_problem="the window sent no heartbeat within 180 s")
    report(mosquitto.port, "madrid-centro", "kiosk-02", software_release=7)
    assert eventually(lambda: len(fleet.kiosks()) == 2)

    kiosks = api.get("/fleet/api/kiosks", headers=AS_HQ).json()["kiosks"]

    assert [(k["kiosk"], k["software_release"], k["software_failed"], k["software_problem"]) for k in kiosks] == [
        ("kiosk-01", 6, 7, "the window sent no heartbeat within 180 s"), ("kiosk-02", 7, 0, "")]
    assert [a["message"] for a in kiosks[0]["alerts"]] == [
        "Software release 7 switched back: the window sent no heartbeat within 180 s"]
    assert kiosks[1]["alerts"] == []


def test_a_command_the_broker_cannot_take_is_a_503(mosquitto: Mosquitto, fleet: FleetView, sqlite_url: str) -> None:
    api = TestClient(create_app(ProfileStore(sqlite_url), ApiKeys(KEYS), fleet=fleet))
    publisher = _publisher(mosquitto)
    publisher.publish("kiosk/madrid-centro/kiosk-01/status", _status().model_dump_json(), qos=1).wait_for_publish(5)
    publisher.loop_stop()
    publisher.disconnect()
    assert eventually(lambda: fleet.kiosk("madrid-centro", "kiosk-01") is not None)
    mosquitto.stop()
    response = api.post("/fleet/api/kiosks/madrid-centro/kiosk-01/commands", headers=AS_HQ, json={"command": "lock"})
    assert (response.status_code, response.json()["error"]) == (503, "broker_unreachable")
