"""HQ's live side of each store over MQTT: what changes in its stock and reservations, told to
its kiosks as it happens.

The follower pages every reservation and stock row changed since its cursor by revision
(``_revisions``) and publishes, through the profile responder's connection:

- **to the kiosk a reservation was made at**, each state it takes (``ReservationUpdate`` on
  that kiosk's ``reservation/changes``, stamped with the row's revision, the message
  expiring after the hold's length: an update older than the hold is of no use);
- **to the store**, each changed SKU's free units per size (``StockLevel``, retained on
  ``stock_topic``: available = units - held, stamped with the highest revision it holds)
  and, when a reservation of the store changed, its open requests oldest first
  (``StoreRequests``, retained).

A reservation made over the API has no kiosk to tell; it still moves the store's stock and
its list. Store topics carry nothing of a shopper.

Delivery is at least once: the cursor is kept in HQ's database (beside the profile
pusher's) once the broker has acknowledged every message up to it, and a restart resumes
from it; a message sent again carries the same stamp, which the kiosk drops. A first
start publishes every store's levels and lists (retained: what a kiosk reads when it
comes up) and no updates: a kiosk's own requests made before are answered already.
It is woken at each commit of this process (``ChangeLog.written``) and polls for others'.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from hq._reservation_desk import kiosk_reservation
from hq._reservations import Reservation, reservations, stored_reservation
from hq._revisions import committed
from hq._stock import stock
from hq._store import ProfileStore
from kiosk_protocol import (
    MAX_OPEN_REQUESTS,
    OpenRequest,
    ReservationTopics,
    ReservationUpdate,
    StockLevel,
    StoreRequests,
    SyncError,
    stock_topic,
    store_requests_topic,
)

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 2.0
_SPAN = 500  # revisions read in one round: a round publishes at most the rows they changed


class RetainingPublisher(Protocol):
    """Publishes one QoS 1 message, retained or not, and waits for the PUBACK (``ProfileResponder`` is one)."""

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0,
                properties: Mapping[str, Any] | None = None, retain: bool = False) -> None:
        """Raises SyncError when the broker is out of reach or did not acknowledge in time."""


@dataclass
class LiveStats:
    """What the follower has published since it started."""

    updates: int = 0  # ReservationUpdates to the kiosk a reservation was made at
    levels: int = 0  # StockLevels
    request_lists: int = 0  # StoreRequests
    unfit: int = 0  # rows the store contract does not take (a size longer than a kiosk shows): logged, skipped
    failures: int = 0  # rounds that stopped on the broker or the database, and were tried again
    cursor: int = 0  # every revision up to here is published, and kept so in the database
    resumed_from: int = 0


class StoreLiveFollower:
    """Publishes each store's reservation and stock changes to its kiosks, on its own thread.

    Args:
        store: HQ's profile store.
        publisher: the connection it publishes through (HQ's responder's).
        name: its cursor is kept under ``<name>-live`` (one per HQ machine).
        poll_s: how often an idle follower reads the counter (a commit in this process wakes it at once).
        gather_s: how long a round woken by a commit waits for more to join it: at a hundred
            holds a second, one store's list is read and published once rather than a hundred times.
    """

    def __init__(self, store: ProfileStore, publisher: RetainingPublisher, *, name: str = "hq",
                 poll_s: float = 0.05, gather_s: float = 0.02, span: int = _SPAN) -> None:
        self.store, self.name = store, f"{name}-live"
        self.stats = LiveStats()
        self.started = threading.Event()  # the cursor it resumes from is known
        self._publisher = publisher
        self._poll_s, self._gather_s, self._span = poll_s, gather_s, span
        self._first_start_top: int | None = None  # on a first start: updates up to here are not sent
        self._woken = threading.Event()
        self._stop = threading.Event()
        self._unfollow = store.changes.written.follow(self._woken.set)
        self._thread = threading.Thread(target=self._run, name=f"store-live-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the round in hand; the cursor kept is where the next start resumes."""
        self._stop.set()
        self._woken.set()
        self._thread.join(10)
        self._unfollow()

    def _run(self) -> None:
        delay = self._poll_s
        cursor: int | None = None
        while not self._stop.is_set():
            busy = False
            try:
                if cursor is None:
                    cursor = self._resume_from()
                if self._woken.is_set():  # a commit here: the ones right behind it join the round
                    self._stop.wait(self._gather_s)
                self._woken.clear()
                cursor, busy = self._round(cursor)
                delay = self._poll_s
            except (SQLAlchemyError, SyncError) as exc:  # tried again from the cursor kept
                self.stats.failures += 1
                log.warning("store live publishing paused for %.2f s: %s", delay, exc)
                delay = min(delay * 2, _MAX_BACKOFF_S)
            if not busy:
                self._woken.wait(delay)

    def _resume_from(self) -> int:
        cursor = self.store.presence.cursor(self.name)
        if cursor is None:  # a first start: every level and list, no updates from before
            with self.store.engine.connect() as db:
                self._first_start_top = committed(db)
            cursor = 0
        self.stats.cursor = self.stats.resumed_from = cursor
        self.started.set()
        log.info("store live follower %s resumes after revision %d", self.name, cursor)
        return cursor

    def _round(self, after: int) -> tuple[int, bool]:
        """Publish what revisions after ``after`` changed (a span of them); the new cursor, and whether more wait."""
        with self.store.engine.connect() as db:
            top = committed(db)  # first: every revision up to it is visible to the reads below
            if top <= after:
                return after, False
            upto = min(top, after + self._span)
            moved = [stored_reservation(row) for row in db.execute(
                sa.select(reservations).where(reservations.c.revision > after, reservations.c.revision <= upto)
                .order_by(reservations.c.revision))]
            skus = db.execute(sa.select(stock.c.store, stock.c.sku).distinct().where(
                stock.c.revision > after, stock.c.revision <= upto)).all()
        for reservation in moved:
            self._tell_kiosk(reservation)
        # A hold leaves its stock row's revision as it was (``_reservations``): its reservation's tells.
        for store, sku in sorted({*map(tuple, skus), *((r.store, r.sku) for r in moved)}):
            self._publish_level(store, sku, upto)
        stamps: dict[str, int] = defaultdict(int)
        for reservation in moved:
            stamps[reservation.store] = max(stamps[reservation.store], reservation.revision)
        for store, stamp in sorted(stamps.items()):
            self._publish_requests(store, stamp)
        self.store.presence.keep_cursor(self.name, upto)
        self.stats.cursor = upto
        if self._first_start_top is not None and upto >= self._first_start_top:
            self._first_start_top = None
        return upto, upto < top

    def _tell_kiosk(self, reservation: Reservation) -> None:
        if reservation.kiosk is None or reservation.session is None:
            return  # made over the API: no kiosk asked
        if self._first_start_top is not None and reservation.revision <= self._first_start_top:
            return
        try:
            update = ReservationUpdate(session=uuid.UUID(reservation.session), stamp=reservation.revision,
                                       reservation=kiosk_reservation(reservation))
        except (ValidationError, ValueError) as exc:
            self._unfit(f"reservation {reservation.reservation_id}", exc)
            return
        expiry = max(1, int(reservation.hold_length.total_seconds()))
        self._publisher.publish(ReservationTopics(reservation.store, reservation.kiosk).changes,
                                update.model_dump_json(exclude_none=True).encode(),
                                properties={"MessageExpiryInterval": expiry})
        self.stats.updates += 1

    def _publish_level(self, store: str, sku: str, upto: int) -> None:
        """Publish a product's level, read now: it holds at least every revision up to ``upto``, its stamp."""
        with self.store.engine.connect() as db:
            rows = db.execute(sa.select(stock.c.size, stock.c.units, stock.c.held)
                              .where(stock.c.store == store, stock.c.sku == sku)).all()
        if not rows:
            return
        try:
            level = StockLevel(store=store, sku=sku, stamp=upto,
                               available={row.size: max(0, row.units - row.held) for row in rows})
        except ValidationError as exc:
            self._unfit(f"{store}'s stock of {sku}", exc)
            return
        self._publisher.publish(stock_topic(store, sku), level.model_dump_json().encode(), retain=True)
        self.stats.levels += 1

    def _publish_requests(self, store: str, stamp: int) -> None:
        listed = []
        for reservation in self.store.reservations.open_in(store, MAX_OPEN_REQUESTS):
            try:
                listed.append(OpenRequest(reservation_id=uuid.UUID(reservation.reservation_id),
                                          kiosk=reservation.kiosk, sku=reservation.sku, size=reservation.size,
                                          kind=reservation.kind, state=reservation.state,
                                          created_at=reservation.created_at,
                                          note=reservation.note[:80] if reservation.note else None))
            except ValidationError as exc:
                self._unfit(f"reservation {reservation.reservation_id}", exc)
        try:
            message = StoreRequests(store=store, stamp=stamp, requests=tuple(listed))
        except ValidationError as exc:
            self._unfit(f"{store}'s open requests", exc)
            return
        # Every field written out: a request made online says ``"kiosk": null``, which the contract requires.
        self._publisher.publish(store_requests_topic(store), message.model_dump_json().encode(), retain=True)
        self.stats.request_lists += 1

    def _unfit(self, what: str, exc: Exception) -> None:
        self.stats.unfit += 1
        detail = exc.errors(include_url=False)[:3] if isinstance(exc, ValidationError) else exc
        log.error("%s is not published: %s", what, detail)

