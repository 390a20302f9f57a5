"""Alarms from the fleet's alerts: raised in the alarm log once a problem has lasted
``raise_after_s`` (a kiosk restarting for an update raises none), cleared when it is gone.

A kiosk offline (or silent) raises an alarm only while its store is open by the catalog's
opening hours (a store the catalog does not list is open around the clock); once raised, it
stays until the kiosk is back. Nothing is cleared before the fleet view has heard the fleet
(``FleetView.settled``): a fresh HQ process knows no kiosk yet, which is not every problem
solved. A kiosk that left the fleet clears its alarms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from hq._alarm_log import AlarmKey, AlarmKind, AlarmLog
from hq._fleet import AlertKind, FleetView, KioskView, StoreAlerts
from hq._rounds import Rounds
from kiosk_protocol import Store

log = logging.getLogger(__name__)

# The dashboard's alerts that are alarms too; the others (locked, an older catalog...) are the dashboard's only.
ALARM_OF_ALERT = {
    AlertKind.OFFLINE: AlarmKind.OFFLINE,
    AlertKind.SILENT: AlarmKind.OFFLINE,
    AlertKind.READER_OFFLINE: AlarmKind.READER_OFFLINE,
    AlertKind.BACKLOG_HIGH: AlarmKind.BACKLOG_HIGH,
    AlertKind.UPDATE_REFUSED: AlarmKind.UPDATE_FAILED,
    AlertKind.SOFTWARE_FAILED: AlarmKind.UPDATE_FAILED,
    AlertKind.DISK_LOW: AlarmKind.DISK_LOW,
    AlertKind.DISK_FULL: AlarmKind.DISK_FULL,
    AlertKind.REQUEST_WAITING: AlarmKind.REQUEST_UNANSWERED,
}


def fleet_problems(kiosks: Iterable[KioskView], stores: Iterable[StoreAlerts]) -> dict[AlarmKey, str]:
    """The alarms the fleet's alerts call for now, each with the words of its first alert."""
    found: dict[AlarmKey, str] = {}
    for view in kiosks:
        for alert in view.alerts:
            if alert.kind in ALARM_OF_ALERT:
                found.setdefault(AlarmKey(*view.key, ALARM_OF_ALERT[alert.kind]), alert.message)
    for store in stores:
        for alert in store.alerts:
            if alert.kind in ALARM_OF_ALERT:
                found.setdefault(AlarmKey(store.store, "", ALARM_OF_ALERT[alert.kind]), alert.message)
    return found


def is_open(stores: Sequence[Store], store: str, at: datetime) -> bool:
    """Whether ``store`` is open at ``at`` by the catalog's hours (a store it does not list always is)."""
    listed = next((s for s in stores if s.id == store), None)
    return listed is None or listed.is_open_at(at)


@dataclass
class AlarmWatchStats:
    """What this process's watch raised and cleared (another process may have done either first)."""

    raised: int = 0
    cleared: int = 0
    rounds_failed: int = 0  # the database out of reach: tried again at the next round


class AlarmWatch:
    """Raises and clears alarms from a fleet view's alerts, in a thread; ``start``, then ``stop``."""

    def __init__(self, alarms: AlarmLog, fleet: FleetView, stores: Callable[[], Sequence[Store]] = tuple,
                 raise_after_s: float = 120.0, round_s: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.alarms, self.fleet = alarms, fleet
        self.stats = AlarmWatchStats()
        self._stores = stores
        self._raise_after = timedelta(seconds=raise_after_s)
        self._clock = clock
        self._since: dict[AlarmKey, datetime] = {}  # problems not yet raised: since when this process saw them
        self._rounds = Rounds("hq-alarm-watch", round_s, self.round, self._round_failed, log,
                              "alarms not checked this round", (SQLAlchemyError,))

    def start(self) -> None:
        """A round every ``round_s``: a problem waits out its grace (minutes) anyway, so a round at
        each of the fleet's changes (every kiosk's heartbeat) would only cost the database reads."""
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()

    def round(self) -> None:
        """Raise the problems that lasted long enough, clear the alarms whose problem is gone."""
        now = self._clock()
        problems = fleet_problems(self.fleet.kiosks(), self.fleet.store_alerts())
        raised = self.alarms.open_alarms()
        stores = self._stores()
        for key in set(self._since) - set(problems):
            del self._since[key]
        for key, message in sorted(problems.items(), key=lambda problem: problem[0].open_key):
            if key in raised:
                continue
            if key.kind is AlarmKind.OFFLINE and not is_open(stores, key.store, now):
                self._since.pop(key, None)  # offline while closed is how a store ends its day
                continue
            if now - self._since.setdefault(key, now) >= self._raise_after:
                del self._since[key]
                if self.alarms.raise_alarm(key, message, now) is not None:
                    self.stats.raised += 1
                    log.warning("alarm raised: %s/%s %s: %s", key.store, key.kiosk or "-", key.kind.value, message)
        if not self.fleet.settled.is_set():
            return
        for key in sorted(raised.keys() - problems.keys(), key=lambda gone: gone.open_key):
            if self.alarms.clear(key, now):
                self.stats.cleared += 1
                log.info("alarm cleared: %s/%s %s", key.store, key.kiosk or "-", key.kind.value)

    def _round_failed(self) -> None:
        self.stats.rounds_failed += 1
