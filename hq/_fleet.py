"""The fleet as HQ sees it: every kiosk's retained status, its alerts, and commands to kiosks.

Kiosks keep a retained status on ``kiosk/<store>/<kiosk>/status`` (online every 30 s,
offline when they stop, and offline from their last will when they die), so a fresh
FleetView learns the whole fleet at once on subscribing and then follows it live.
Several HQ processes may each run one: it only reads statuses and publishes commands. Its
``care`` asks one kiosk for a screenshot or log lines, over the same connection.

Given a watch on the stores' requests (``watch_requests``, ``_request_alerts``), its alert
timer also raises ``request_waiting``: on the row of the kiosk a late request was asked
at, or on its store (``store_alerts``) for one asked online or at a kiosk it does not know.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError

from backend_sync import BrokerUrl, MqttClient
from hq._care import CareDesk
from kiosk_protocol import (
    BACKLOG_HIGH,
    CARE_RESPONSES_WILDCARD,
    STATUS_WILDCARD,
    CommandKind,
    ContractError,
    KioskCommand,
    KioskStatus,
    LinkState,
    MessageTooLarge,
    decode_status,
    kiosk_topics,
)

if TYPE_CHECKING:
    from hq._request_alerts import RequestAlerts

log = logging.getLogger(__name__)

# What staff may order from the dashboard (forgetting a shopper goes with an erase only).
REMOTE_COMMANDS = (CommandKind.RELOAD_CATALOG, CommandKind.LOCK, CommandKind.UNLOCK, CommandKind.IDENTIFY)
# An order that is stale by the time an offline kiosk comes back expires at the broker;
# lock and unlock wait for the kiosk however long it takes.
_COMMAND_EXPIRY_S = {CommandKind.IDENTIFY: 120, CommandKind.RELOAD_CATALOG: 3600}
_RECHECK_EVERY_S = 5.0


class AlertKind(enum.Enum):
    """Why a kiosk needs someone's attention."""

    OFFLINE = "offline"
    SILENT = "silent"
    READER_OFFLINE = "reader_offline"
    BACKLOG_HIGH = "backlog_high"
    UPDATE_REFUSED = "update_refused"
    LOCKED = "locked"
    DISK_FULL = "disk_full"
    DISK_LOW = "disk_low"
    OUTBOX_RESET = "outbox_reset"
    CATALOG_FALLBACK = "catalog_fallback"
    OFFERS_PROBLEM = "offers_problem"
    REQUEST_WAITING = "request_waiting"  # a shopper's request nobody has taken in time
    SOFTWARE_FAILED = "software_failed"  # a newer software release failed its health check and was switched back


@dataclass(frozen=True)
class Alert:
    """One problem of one kiosk, in words a store manager reads."""

    kind: AlertKind
    message: str


@dataclass(frozen=True)
class FleetThresholds:
    """When a kiosk's state becomes an alert."""

    backlog_high: int = BACKLOG_HIGH
    silent_after_s: float = 90.0  # three missed 30-second heartbeats
    disk_low_mb: int = 500  # less free than this where a kiosk keeps its data: a catalog update may not fit


@dataclass(frozen=True)
class KioskView:
    """One kiosk on the dashboard."""

    status: KioskStatus
    last_seen: datetime
    alerts: tuple[Alert, ...]

    @property
    def key(self) -> tuple[str, str]:
        """(store, kiosk)."""
        return self.status.store, self.status.kiosk

    def to_json(self) -> dict[str, Any]:
        """The kiosk as the dashboard and the fleet API show it."""
        status = self.status
        return {
            "store": status.store, "kiosk": status.kiosk, "state": status.state.value,
            "last_seen": self.last_seen.isoformat(), "app_version": status.app_version,
            "catalog_version": status.catalog_version, "backlog": status.backlog, "reader": status.reader,
            "update_problem": status.update_problem, "catalog_fallback": status.catalog_fallback,
            "outbox_reset": status.outbox_reset, "disk_full": status.disk_full,
            "disk_free_mb": status.disk_free_mb, "offers_problem": status.offers_problem,
            "software_release": status.software_release, "software_on_trial": status.software_on_trial,
            "software_failed": status.software_failed,
            "software_problem": status.software_problem,
            "alerts": [{"kind": alert.kind.value, "message": alert.message} for alert in self.alerts],
        }


@dataclass(frozen=True)
class KioskGone:
    """A kiosk's retained status was deleted: it left the fleet."""

    store: str
    kiosk: str


@dataclass(frozen=True)
class StoreAlerts:
    """A store's own alerts changed (late requests asked online, or at a kiosk the fleet does not know)."""

    store: str
    alerts: tuple[Alert, ...]

    def to_json(self) -> dict[str, Any]:
        """The store's alerts as the dashboard and the fleet API show them."""
        return {"store": self.store, "alerts": [{"kind": a.kind.value, "message": a.message} for a in self.alerts]}


FleetChange = KioskView | KioskGone | StoreAlerts | None  # None: the view is closing
RequestAlertSource = Callable[[Collection[tuple[str, str]]], "RequestAlerts"]


def kiosk_alerts(status: KioskStatus, last_seen: datetime, now: datetime,
                 thresholds: FleetThresholds) -> tuple[Alert, ...]:
    """What is wrong with a kiosk, most serious first."""
    alerts = []
    if status.state is LinkState.OFFLINE:
        alerts.append(Alert(AlertKind.OFFLINE, "Kiosk is offline"))
    elif now - last_seen > timedelta(seconds=thresholds.silent_after_s):
        alerts.append(Alert(AlertKind.SILENT, f"No heartbeat for {int((now - last_seen).total_seconds())} s"))
    if status.state is LinkState.ONLINE and status.reader == "offline":
        alerts.append(Alert(AlertKind.READER_OFFLINE, "NFC reader is offline"))
    if status.disk_full:
        alerts.append(Alert(AlertKind.DISK_FULL, "Disk full: taps are shown but their events are not recorded"))
    elif status.disk_free_mb is not None and status.disk_free_mb < thresholds.disk_low_mb:
        alerts.append(Alert(AlertKind.DISK_LOW, f"Disk nearly full: {status.disk_free_mb} MB free"))
    if status.outbox_reset:
        alerts.append(Alert(AlertKind.OUTBOX_RESET, f"Event store was damaged and replaced: {status.outbox_reset}"))
    if status.backlog >= thresholds.backlog_high:
        alerts.append(Alert(AlertKind.BACKLOG_HIGH, f"{status.backlog} events waiting to reach HQ"))
    if status.update_problem:
        alerts.append(Alert(AlertKind.UPDATE_REFUSED, f"Catalog update refused: {status.update_problem}"))
    # Only a failed release newer than the one running: once a later release runs, an old failure is history.
    if status.software_failed > status.software_release:
        alerts.append(Alert(AlertKind.SOFTWARE_FAILED, f"Software release {status.software_failed} switched back: "
                                                       f"{status.software_problem or 'no reason given'}"))
    if status.catalog_fallback:
        alerts.append(Alert(AlertKind.CATALOG_FALLBACK, f"Running on an older catalog: {status.catalog_fallback}"))
    if status.offers_problem:
        alerts.append(Alert(AlertKind.OFFERS_PROBLEM, f"Running with no offers: {status.offers_problem}"))
    if status.locked:
        alerts.append(Alert(AlertKind.LOCKED, f"Out of service: locked by {status.locked}"))
    return tuple(alerts)


def last_seen_after(previous: datetime | None, status: KioskStatus, received: datetime, live: bool) -> datetime:
    """When HQ last knew a kiosk to be up, after this status.

    A live online status means now. A last will carries the time the kiosk connected,
    not the time it died, so the last heartbeat HQ saw is the better guess; a retained
    status read at start-up has only its own timestamp. A kiosk clock ahead of HQ's is
    never believed past now.
    """
    seen = [min(status.at, received)]
    if live and status.state is LinkState.ONLINE:
        seen.append(received)
    if previous is not None:
        seen.append(previous)
    return max(seen)


class FleetView:
    """Follows every kiosk's status through the broker and sends kiosks commands."""

    def __init__(self, broker_url: str, client_id: str | None = None,
                 thresholds: FleetThresholds = FleetThresholds(),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.broker = BrokerUrl.parse(broker_url)
        self.thresholds = thresholds
        self.rejected = 0
        self.oversized = 0  # of the rejected: statuses larger than a status may be, refused unread
        self._clock = clock
        self._kiosks: dict[tuple[str, str], KioskView] = {}
        self._listeners: list[Callable[[FleetChange], None]] = []
        self._request_source: RequestAlertSource | None = None
        self._kiosk_requests: dict[tuple[str, str], Alert] = {}  # the late requests' alerts, by kiosk
        self._store_requests: dict[str, Alert] = {}  # and by store
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Its own client id whatever the credentials: another HQ process or service with
        # the same id would take this session over.
        self._client = MqttClient(self.broker, client_id or f"hq-fleet-{uuid.uuid4().hex[:8]}", role="the fleet view",
                                  subscriptions=[STATUS_WILDCARD, CARE_RESPONSES_WILDCARD],
                                  on_message=self._on_message)
        self.subscribed = self._client.subscribed
        self.settled = threading.Event()  # set once a whole alert round has passed since subscribing
        self._subscribed_last_round = False
        self.care = CareDesk(lambda topic, payload, expiry_s: self._client.publish_and_wait(
            topic, payload, properties={"MessageExpiryInterval": expiry_s}))
        self._rechecker = threading.Thread(target=self._recheck_alerts, name="hq-fleet-alerts", daemon=True)

    def start(self) -> None:
        """Connect (retrying in the background) and follow the fleet."""
        self._client.start()
        self._rechecker.start()

    def stop(self) -> None:
        """Disconnect, and tell every listener the view is closing."""
        self._stop.set()
        self._client.stop()
        self._notify(None)

    def kiosks(self) -> list[KioskView]:
        """Every known kiosk, by store and kiosk id."""
        with self._lock:
            return [self._kiosks[key] for key in sorted(self._kiosks)]

    def store_alerts(self) -> list[StoreAlerts]:
        """The stores with alerts of their own, by store id."""
        with self._lock:
            return [StoreAlerts(store, (alert,)) for store, alert in sorted(self._store_requests.items())]

    def watch_requests(self, source: RequestAlertSource) -> None:
        """Raise late requests' alerts from ``source`` (``RequestWatch.alerts``) at every alert round."""
        self._request_source = source

    def kiosk(self, store: str, kiosk: str) -> KioskView | None:
        """One kiosk, or None if HQ has never heard of it."""
        with self._lock:
            return self._kiosks.get((store, kiosk))

    def listen(self, listener: Callable[[FleetChange], None]) -> Callable[[], None]:
        """Call ``listener`` on every change (from a background thread); returns the unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def send_command(self, store: str, kiosk: str, command: CommandKind, timeout_s: float = 5.0) -> None:
        """Send a kiosk a command on its commands topic (QoS 1; waits for the broker's PUBACK).

        An offline kiosk gets it when it reconnects: the broker keeps its session.

        Raises:
            ContractError: a store or kiosk id that is not ``[a-z0-9-]``.
            SyncError: the broker did not take the command in time.
        """
        topic = kiosk_topics(store, kiosk).commands
        expiry = {"MessageExpiryInterval": _COMMAND_EXPIRY_S[command]} if command in _COMMAND_EXPIRY_S else None
        self._client.publish_and_wait(topic, KioskCommand(command=command).model_dump_json().encode(),
                                      properties=expiry, timeout_s=timeout_s)
        log.info("sent %s to %s/%s", command.value, store, kiosk)

    def want_software(self, store: str, kiosk: str, envelope: bytes, timeout_s: float = 10.0) -> None:
        """Say which release a kiosk is to run: its signed manifest retained on the kiosk's software
        topic (read whenever it connects); an empty ``envelope`` says no release is wanted.

        Raises:
            ContractError: a store or kiosk id that is not ``[a-z0-9-]``.
            SyncError: the broker did not take it in time.
        """
        self._client.publish_and_wait(kiosk_topics(store, kiosk).software, envelope, retain=True, timeout_s=timeout_s)

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        parts = message.topic.split("/")
        if parts[3:] == ["care", "response"]:
            self.care.heard(message.topic, bytes(message.payload))
            return
        if not message.payload:  # an empty retained payload deletes: the kiosk left the fleet
            with self._lock:
                gone = self._kiosks.pop((parts[1], parts[2]), None)
            if gone is not None:
                self._notify(KioskGone(*gone.key))
            return
        try:
            status = decode_status(bytes(message.payload))
            if message.topic != kiosk_topics(status.store, status.kiosk).status:
                raise ContractError(f"status of {status.store}/{status.kiosk} arrived on {message.topic!r}")
        except ContractError as exc:
            self.rejected += 1
            self.oversized += isinstance(exc, MessageTooLarge)
            log.warning("ignored a status on %s: %s", message.topic, exc)
            return
        now = self._clock()
        with self._lock:
            previous = self._kiosks.get((status.store, status.kiosk))
            seen = last_seen_after(previous.last_seen if previous else None, status, now, live=not message.retain)
            view = KioskView(status, seen, self._alerts_of(status, seen, now))
            self._kiosks[view.key] = view
        self._notify(view)

    def recheck(self) -> None:
        """One alert round: late requests looked up again, and every kiosk's alerts worked out anew."""
        stores_changed = self._refresh_requests()
        now = self._clock()
        changed = []
        with self._lock:
            for key, view in self._kiosks.items():
                alerts = self._alerts_of(view.status, view.last_seen, now)
                if [_alert_key(a) for a in alerts] != [_alert_key(a) for a in view.alerts]:
                    self._kiosks[key] = KioskView(view.status, view.last_seen, alerts)
                    changed.append(self._kiosks[key])
        if self._subscribed_last_round:  # a whole round since subscribing: the retained statuses are in
            self.settled.set()
        self._subscribed_last_round = self.subscribed.is_set()
        changes: list[FleetChange] = [*changed, *stores_changed]
        for change in changes:
            self._notify(change)

    def _recheck_alerts(self) -> None:
        """Kiosks that go quiet send nothing, and requests wait in silence: look for them on a timer."""
        while not self._stop.wait(_RECHECK_EVERY_S):
            self.recheck()

    def _refresh_requests(self) -> list[StoreAlerts]:
        """Ask the request watch again; the stores whose own alerts changed."""
        if self._request_source is None:
            return []
        with self._lock:
            known = set(self._kiosks)
        try:
            found = self._request_source(known)
        except SQLAlchemyError as exc:  # keep the alerts of the last round; try again at the next
            log.error("late requests not looked up this round, the profile database is out of reach: %s", exc)
            return []
        except Exception:  # nor may anything else stop the alert timer, which watches the kiosks too
            log.exception("late requests not looked up this round")
            return []
        with self._lock:
            before = self._store_requests
            self._kiosk_requests, self._store_requests = dict(found.kiosks), dict(found.stores)
        return [StoreAlerts(store, (found.stores[store],) if store in found.stores else ())
                for store in sorted(set(before) | set(found.stores)) if before.get(store) != found.stores.get(store)]

    def _alerts_of(self, status: KioskStatus, last_seen: datetime, now: datetime) -> tuple[Alert, ...]:
        """A kiosk's own alerts, then its late requests' (called with the lock held)."""
        request = self._kiosk_requests.get((status.store, status.kiosk))
        return kiosk_alerts(status, last_seen, now, self.thresholds) + ((request,) if request else ())

    def _notify(self, change: FleetChange) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(change)
            except Exception:  # one broken listener must not stop the fleet view
                log.exception("a fleet listener failed")


def _alert_key(alert: Alert) -> tuple[AlertKind, str]:
    """What makes an alert new: its kind, and for a late request its words (how many, since when);
    not the seconds of a silence, which change every round."""
    return alert.kind, alert.message if alert.kind is AlertKind.REQUEST_WAITING else ""
