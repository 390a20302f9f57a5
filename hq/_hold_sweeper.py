"""The thread in ``kiosk hq serve`` that keeps holds and stock in step with time and the catalog.

Every ``interval_s`` it expires the holds that ran out (``Reservations.expire_due``: each
frees its unit, with the change in the log) and, given HQ's catalog file, loads its stock
for the stores without a feed of their own whenever the file has changed (``Stock.load_catalog``;
at start too). A database out of reach is logged and tried again at the next round: the
thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from hq._phone_views import CatalogFile
from hq._store import ProfileStore
from kiosk_protocol import Catalog

log = logging.getLogger(__name__)

DEFAULT_SWEEP_S = 5.0


@dataclass
class SweepStats:
    """What the sweeper did."""

    rounds: int = 0
    expired: int = 0  # holds it expired
    catalog_loads: int = 0
    failures: int = 0  # rounds the database did not answer


class HoldSweeper:
    """Expires overdue holds and loads the catalog's stock, on a thread of its own."""

    def __init__(self, store: ProfileStore, catalog: CatalogFile | None = None, interval_s: float = DEFAULT_SWEEP_S,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._catalog = catalog
        self._interval_s = interval_s
        self._clock = clock
        self._loaded: Catalog | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = SweepStats()
        self.swept = threading.Condition()  # notified after each round, for whoever waits on one

    def start(self) -> None:
        self.sweep()  # the catalog's stock is in before the API answers
        self._thread = threading.Thread(target=self._run, name="hq-hold-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)

    def sweep(self) -> None:
        """One round: the catalog's stock if the file changed, then every overdue hold expired."""
        try:
            if self._catalog is not None and (catalog := self._catalog.current()) is not self._loaded:
                self._store.stock.load_catalog(catalog)
                self._loaded = catalog
                self.stats.catalog_loads += 1
            self.stats.expired += self._store.reservations.expire_due(self._clock())
        except SQLAlchemyError as exc:
            self.stats.failures += 1
            log.error("holds not swept this round, the database is out of reach: %s", exc)
        self.stats.rounds += 1
        with self.swept:
            self.swept.notify_all()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self.sweep()
