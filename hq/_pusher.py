"""HQ's live push: each change to the profile of a shopper signed in at a kiosk, made in any
other channel, goes to that kiosk on ``kiosk/<store>/<kiosk>/profile/changes``.

The pusher follows the change log (``_changes``) by cursor, a page at a time, and looks up
where the page's shoppers stand (``_presence``). A change goes out (``ProfileChange``,
QoS 1, naming the visit, not the shopper) when its shopper is signed in at a kiosk and
the change was made elsewhere: the kiosk's own changes are not echoed back to it. A reservation's
state goes only to a kiosk in the reservation's store. Views
are not pushed; what a kiosk shows of them is what it pulled at sign-in. A coupon's
changes go only to a kiosk whose profile request said it reads coupons (version 3).

Delivery is at least once: the pusher keeps its cursor in HQ's database only after the
broker has acknowledged every change up to it, and resumes from it after a restart, so
nothing is lost; a change pushed again carries the same cursor, and the kiosk drops a
cursor it has had. A pusher's first start begins at the log's end: what came before is
in the profile every kiosk pulls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from hq._changes import CHANGE_FIELDS, ERASE, RESERVATION, Change
from hq._orders import order_summary
from hq._presence import Stay
from hq._reservation_desk import kiosk_reservation
from hq._store import ProfileStore
from kiosk_protocol import (
    CHANGE_KIND_SINCE,
    KIND_SINCE_REQUEST,
    ChangeKind,
    ProfileChange,
    ReservationState,
    SyncError,
    channel_of,
    kiosk_topics,
)

log = logging.getLogger(__name__)

PUSHED_KINDS = frozenset(kind.value for kind in ChangeKind if kind.value in CHANGE_FIELDS)
# What a kiosk is told of each kind: the log's fields but those it has no use for (a redemption's id);
# an order goes as its summary (``_message``).
_PUSHED_FIELDS = {kind: set(CHANGE_FIELDS[kind.value]) - {"redemption"} for kind in ChangeKind
                  if kind.value in CHANGE_FIELDS}
_MAX_BACKOFF_S = 2.0


class Publisher(Protocol):
    """Publishes one QoS 1 message and waits for the broker's PUBACK (``ProfileResponder`` is one)."""

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0,
                properties: Mapping[str, Any] | None = None) -> None:
        """Raises SyncError when the broker is out of reach or did not acknowledge in time."""


@dataclass
class PushStats:
    """What the pusher has done since it started."""

    pushed: int = 0  # changes the broker took for a kiosk
    not_echoed: int = 0  # made at the very kiosk the shopper stands at
    nobody_there: int = 0  # of shoppers signed in nowhere now
    unfit: int = 0  # changes the push contract does not take (logged, skipped)
    too_new: int = 0  # of kinds the shopper's kiosk is too old to read (coupons to a kiosk of version 2)
    other_store: int = 0  # reservations in another store than the one the shopper stands in
    failures: int = 0  # rounds that stopped on the broker or the database, and were tried again
    cursor: int = 0  # every change up to here is dealt with, and kept so in the database
    resumed_from: int = 0  # the cursor it started from (kept by the pusher before it, or the log's end)


class ProfilePusher:
    """Pushes profile changes to the kiosks where their shoppers stand, on its own thread.

    Args:
        store: HQ's profile store: its change log and its presence.
        publisher: the connection the pushes go through (HQ's responder's).
        name: the pusher's cursor is kept under this name (one per HQ machine).
        poll_s: how often an idle pusher reads the log's end.
    """

    def __init__(self, store: ProfileStore, publisher: Publisher, *, name: str = "hq", poll_s: float = 0.05,
                 page: int = 100, expire_every_s: float = 60.0) -> None:
        self.store, self.name = store, name
        self.stats = PushStats()
        self.started = threading.Event()  # the cursor it resumes from is known (``stats.resumed_from``)
        self._publisher = publisher
        self._poll_s, self._page, self._expire_every_s = poll_s, page, expire_every_s
        self._expired_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"profile-pusher-{name}", daemon=True)

    def start(self) -> None:
        """Start pushing from the stored cursor (the log's end on a first start)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the change in hand; the cursor kept is where the next start resumes."""
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        delay = self._poll_s
        cursor: int | None = None
        while not self._stop.is_set():
            busy = False
            try:
                if cursor is None:
                    cursor = self._resume_from()
                cursor, busy = self._push_page(cursor)
                delay = self._poll_s
            except (SQLAlchemyError, SyncError) as exc:  # tried again from the cursor kept
                self.stats.failures += 1
                log.warning("profile push paused for %.2f s: %s", delay, exc)
                delay = min(delay * 2, _MAX_BACKOFF_S)
            if not busy:
                self._stop.wait(delay)

    def _resume_from(self) -> int:
        cursor = self.store.presence.cursor(self.name)
        if cursor is None:
            cursor = self.store.changes.latest()
            self.store.presence.keep_cursor(self.name, cursor)
        self.stats.cursor = self.stats.resumed_from = cursor
        self.started.set()
        log.info("profile pusher %s resumes after change %d", self.name, cursor)
        return cursor

    def _push_page(self, cursor: int) -> tuple[int, bool]:
        """Push one page of changes after ``cursor``; returns the new cursor and whether more may wait."""
        if time.monotonic() - self._expired_at >= self._expire_every_s:
            self.store.presence.expire()
            self._expired_at = time.monotonic()
        changes = self.store.changes.page(cursor, self._page)
        if not changes:
            return cursor, False
        stays = self.store.presence.stays({c.shopper for c in changes if c.kind in PUSHED_KINDS})
        done = cursor
        try:
            for change in changes:
                self._push(change, stays.get(change.shopper))
                done = change.cursor
        finally:  # what the broker took is kept, even when a later push failed
            if done != cursor:
                self.store.presence.keep_cursor(self.name, done)
                self.stats.cursor = done
        return done, len(changes) == self._page

    def _push(self, change: Change, stay: Stay | None) -> None:
        if change.kind not in PUSHED_KINDS:
            return
        if stay is None:
            self.stats.nobody_there += 1
        elif (change.store, change.kiosk) == (stay.store, stay.kiosk) or _made_there(change, stay):
            self.stats.not_echoed += 1
        elif change.kind == RESERVATION and change.fields.get("store") != stay.store:
            self.stats.other_store += 1
        elif stay.v < KIND_SINCE_REQUEST.get(ChangeKind(change.kind), 1):
            self.stats.too_new += 1
        else:
            self._send(change, stay)
        if change.kind == ERASE:  # once pushed: wherever they stood, HQ forgets it too
            self.store.presence.forget(change.shopper)

    def _message(self, change: Change, stay: Stay) -> ProfileChange:
        """``change`` as pushed to the kiosk of ``stay`` (raises LookupError for an order HQ no longer holds)."""
        kind = ChangeKind(change.kind)
        if kind is ChangeKind.ORDER_PLACED:
            order = self.store.orders.get(change.fields["order"])
            if order is None:
                raise LookupError(f"order {change.fields['order']} is gone")
            fields: dict[str, Any] = {"order": order_summary(order)}
        elif kind is ChangeKind.RESERVATION:
            found = self.store.reservations.get(change.fields["store"], change.fields["reservation"])
            if found is None:
                raise LookupError(f"reservation {change.fields['reservation']} is gone")
            # The state this change gave it: a later one is a change of its own, pushed after it.
            fields = {"reservation": kiosk_reservation(found).model_copy(
                update={"state": ReservationState(change.fields["state"])})}
        else:
            fields = {name: change.fields[name] for name in _PUSHED_FIELDS[kind] if name in change.fields}
        return ProfileChange.model_validate({"v": CHANGE_KIND_SINCE.get(kind, 1), "cursor": change.cursor,
                                             "session": stay.session, "kind": kind, **fields})

    def _send(self, change: Change, stay: Stay) -> None:
        try:
            message = self._message(change, stay)
        except (ValidationError, LookupError) as exc:
            self.stats.unfit += 1
            log.error("change %d is not pushed: %s", change.cursor,
                      exc.errors(include_url=False)[:3] if isinstance(exc, ValidationError) else exc)
            return
        # A push the kiosk has not fetched within a visit's bound is of no use to it any more.
        self._publisher.publish(kiosk_topics(stay.store, stay.kiosk).profile_changes,
                                message.model_dump_json(exclude_none=True).encode(),
                                properties={"MessageExpiryInterval": int(self.store.presence.bound_s)})
        self.stats.pushed += 1


def _made_there(change: Change, stay: Stay) -> bool:
    """A reservation change made at the kiosk the shopper stands at (it learns of those on its own topics)."""
    return change.kind == RESERVATION and change.kiosk == channel_of(stay.store, stay.kiosk) \
        and change.fields.get("store") == stay.store
