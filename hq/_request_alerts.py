"""Requests nobody has taken in time, as alerts on the fleet dashboard.

A shopper's request (a size to a fitting room, a product to collect) that is still
``held`` ``after`` minutes on (``kiosk hq serve --request-alert-minutes``, 5 by default)
raises a ``request_waiting`` alert: on the row of the kiosk it was asked at when the
fleet knows that kiosk, else on its store. ``waiting_alerts`` is the pure rule;
``RequestWatch`` reads the stores' open requests (``Reservations.open_in``) for the
fleet view, which looks again on its alert timer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hq._fleet import Alert, AlertKind
from hq._reservations import Reservation, Reservations

DEFAULT_ALERT_MINUTES = 5


@dataclass(frozen=True)
class WaitingRequest:
    """An open request nobody has taken yet."""

    store: str
    kiosk: str | None  # where it was asked; None online or at the till
    created_at: datetime


@dataclass(frozen=True)
class RequestAlerts:
    """The alerts of late requests: on kiosk rows, and on stores (their requests asked elsewhere)."""

    kiosks: dict[tuple[str, str], Alert] = field(default_factory=dict)
    stores: dict[str, Alert] = field(default_factory=dict)


def waiting_alerts(requests: Iterable[WaitingRequest], now: datetime, after: timedelta,
                   known_kiosks: Collection[tuple[str, str]]) -> RequestAlerts:
    """One alert per kiosk (or store) with requests waiting ``after`` or longer, naming how many and the oldest."""
    late: dict[tuple[str, str | None], list[datetime]] = defaultdict(list)
    for request in requests:
        if now - request.created_at >= after:
            at_kiosk = request.kiosk is not None and (request.store, request.kiosk) in known_kiosks
            late[(request.store, request.kiosk if at_kiosk else None)].append(request.created_at)
    alerts = RequestAlerts()
    for (store, kiosk), since in sorted(late.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        oldest = min(since)
        count = "1 request" if len(since) == 1 else f"{len(since)} requests"
        alert = Alert(AlertKind.REQUEST_WAITING, f"{count} not taken for {int(after.total_seconds() // 60)} min "
                                                 f"or more (waiting since {oldest:%H:%M} UTC)")
        if kiosk is None:
            alerts.stores[store] = alert
        else:
            alerts.kiosks[(store, kiosk)] = alert
    return alerts


class RequestWatch:
    """The late requests of the fleet's stores (and of ``stores``, e.g. the catalog's), for the fleet view."""

    def __init__(self, reservations: Reservations, after_minutes: int = DEFAULT_ALERT_MINUTES,
                 stores: Callable[[], Iterable[str]] = lambda: (),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._reservations = reservations
        self.after = timedelta(minutes=after_minutes)
        self._stores = stores
        self.clock = clock

    def alerts(self, known_kiosks: Collection[tuple[str, str]]) -> RequestAlerts:
        """The alerts now, for a fleet that knows ``known_kiosks``.

        Raises:
            SQLAlchemyError: the profile database is out of reach.
        """
        stores = sorted({store for store, _ in known_kiosks} | set(self._stores()))
        waiting = [_waiting(r) for store in stores for r in self._reservations.open_in(store)
                   if r.state.value == "held"]
        return waiting_alerts(waiting, self.clock(), self.after, known_kiosks)


def _waiting(reservation: Reservation) -> WaitingRequest:
    # A request made over the API has no kiosk; one made at a kiosk names it.
    return WaitingRequest(reservation.store, reservation.kiosk, reservation.created_at)
