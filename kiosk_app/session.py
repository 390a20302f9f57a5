"""The kiosk's visit state machine: plain Python, no Kivy, no clock of its own.

    idle ──product tap──▶ browsing ──card tap──▶ signed in   (the same visit goes on)
      ▲                                             │
      └──── idle timeout, or the same card again ───┘   (the visit is wiped)

    any mode ──staff badge or PIN──▶ staff ──badge again, leave, timeout──▶ idle
    any mode ──lock (staff or HQ)──▶ locked ──unlock──▶ idle

A card tapped while browsing signs its shopper into the visit under way: what they looked
at before stays with it, anonymous until they agree to link the visit to their profile.
Every way back to idle replaces the visit with an empty one, so nothing of one shopper
is left in memory for the next; so does another shopper's card while one is signed in.
Staff mode also starts from an empty visit: staff never see a shopper's data, and a
shopper never inherits staff's screen. Whoever started the machine hears of each
signed-in visit that ends (``on_visit_ended``), however it ends; whoever watches the
visits (``watch_visits``: the kiosk, for analytics) hears of each visit's first tap and of
its end, with how long it lasted by the machine's monotonic clock.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiosk_protocol import OrderSummary, ProfileChange, Reservation
from recommender import HistoryEvent

if TYPE_CHECKING:
    from kiosk_app._reservations import VisitRequest

IDLE_TIMEOUT_S = 60.0
STAFF_TIMEOUT_S = 120.0


class Mode(enum.Enum):
    """What the kiosk is doing."""

    IDLE = "idle"  # the attract loop
    BROWSING = "browsing"  # an anonymous shopper
    SIGNED_IN = "signed_in"  # a shopper who tapped their loyalty card
    STAFF = "staff"
    LOCKED = "locked"  # out of service


@dataclass
class Visit:
    """One shopper's visit: anonymous until a card tap, identified only with consent."""

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    shopper: str | None = None
    # The token of the shopper's card read in this visit: HQ's proof that they were here.
    card_token: str | None = None
    consented: bool = False
    viewed: list[HistoryEvent] = field(default_factory=list)
    synced: list[HistoryEvent] = field(default_factory=list)  # from the shopper's profile at HQ
    wishlist: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)  # wishlist items added in this visit, oldest first
    display_name: str | None = None
    preferences: dict[str, str] = field(default_factory=dict)
    coupons: set[str] = field(default_factory=set)
    orders: list[OrderSummary] = field(default_factory=list)  # the newest first, from every channel
    # The shopper's reservations at this store that hold stock (online ones included), by id.
    reservations: dict[uuid.UUID, Reservation] = field(default_factory=dict)
    # The profile's copy kept current by HQ's push (``_live_profile``): the newest HLC it holds
    # per wishlist item, preference, name and consent; the last change's cursor it has (None
    # until the pulled profile is in); the changes pushed before that, waiting for it.
    stamps: dict[str, str] = field(default_factory=dict)
    changes_seen: int | None = None
    waiting: list[ProfileChange] = field(default_factory=list)
    # What the shopper asked for in this visit (a fitting room, a hold to collect) and where each stands.
    requests: list[VisitRequest] = field(default_factory=list)
    # When the visit's first tap came, by the machine's monotonic clock; None: no shopper has tapped yet.
    started_at: float | None = None
    handoff_shown: bool = False  # the QR code that hands the visit off to the phone was on screen

    @property
    def identity(self) -> str | None:
        """The shopper id events may carry: only after consent."""
        return self.shopper if self.consented else None

    @property
    def viewed_skus(self) -> tuple[str, ...]:
        """The products looked at in this visit, newest first, each once."""
        return tuple(dict.fromkeys(event.item_id for event in reversed(self.viewed)))


class SessionMachine:
    """Moves the kiosk between modes and owns the current visit.

    ``clock`` is any monotonic clock; tests pass a fake one. Nothing here runs on its
    own: the screen calls ``expire`` now and then.
    """

    def __init__(self, idle_timeout_s: float = IDLE_TIMEOUT_S, staff_timeout_s: float = STAFF_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic,
                 on_visit_ended: Callable[[Visit], None] = lambda visit: None) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.staff_timeout_s = staff_timeout_s
        self._clock = clock
        self._on_visit_ended = on_visit_ended
        self.mode = Mode.IDLE
        self.visit = Visit()
        self.staff_member: str | None = None
        # Why the kiosk is out of service; a lock outlives staff mode until someone unlocks.
        self.lock_reason: str | None = None
        self._last_activity = clock()
        self._on_visit_started: Callable[[Visit], None] = lambda visit: None
        self._on_visit_closed: Callable[[Visit, float], None] = lambda visit, dwell_s: None

    def watch_visits(self, started: Callable[[Visit], None], closed: Callable[[Visit, float], None]) -> None:
        """Hear of every visit's first tap (``started``) and of its end (``closed``, with its seconds).

        Both run inside the change that causes them; ``closed`` gets the visit that ended
        after the machine has moved on to the next one.
        """
        self._on_visit_started, self._on_visit_closed = started, closed

    @property
    def takes_shopper_taps(self) -> bool:
        """Whether product and card taps are a shopper's (not staff's, not while locked)."""
        return self.mode in (Mode.IDLE, Mode.BROWSING, Mode.SIGNED_IN)

    def touch(self) -> None:
        """Someone did something: restart the idle countdown."""
        self._last_activity = self._clock()

    def browse(self) -> None:
        """A product was shown to a shopper."""
        if not self.takes_shopper_taps:
            raise ValueError(f"no shopper browses while the kiosk is {self.mode.value}")
        if self.mode is Mode.IDLE:
            self.mode = Mode.BROWSING
        self._start_visit()
        self.touch()

    def card(self, shopper: str, token: str | None = None) -> bool:
        """A verified loyalty card (of ``token``) was tapped; returns False when it signed its shopper out.

        A card tapped while browsing continues that visit (its views join the profile only
        if the shopper agrees); another shopper's card starts a fresh visit: nothing of the
        first one carries over.
        """
        if not self.takes_shopper_taps:
            raise ValueError(f"no shopper signs in while the kiosk is {self.mode.value}")
        if self.mode is Mode.SIGNED_IN:
            if self.visit.shopper == shopper:
                self._wipe(Mode.IDLE)
                return False
            self._replace_visit(Visit())
        self.visit.shopper, self.visit.card_token = shopper, token
        self.mode = Mode.SIGNED_IN
        self._start_visit()
        self.touch()
        return True

    def end_visit(self) -> None:
        """Forget the shopper's visit and go back to the attract loop."""
        if self.takes_shopper_taps:
            self._wipe(Mode.IDLE)

    def enter_staff(self, member: str | None) -> None:
        """A valid staff badge (of ``member``) or the PIN (no one named): staff mode, with no shopper's data in it."""
        self.staff_member = member
        self._wipe(Mode.STAFF)

    def leave_staff(self) -> None:
        """Back to shoppers, or to the out-of-service screen while the kiosk is locked."""
        if self.mode is Mode.STAFF:
            self.staff_member = None
            self._wipe(Mode.LOCKED if self.lock_reason else Mode.IDLE)

    def lock(self, reason: str) -> None:
        """Out of service (staff's or HQ's order); staff at work stay in staff mode."""
        self.lock_reason = reason
        if self.mode is not Mode.STAFF:
            self._wipe(Mode.LOCKED)

    def unlock(self) -> None:
        """Back in service."""
        self.lock_reason = None
        if self.mode is Mode.LOCKED:
            self._wipe(Mode.IDLE)

    def seconds_left(self) -> float | None:
        """Seconds until the idle timeout ends this mode, or None when it never times out."""
        timeout = {Mode.BROWSING: self.idle_timeout_s, Mode.SIGNED_IN: self.idle_timeout_s,
                   Mode.STAFF: self.staff_timeout_s}.get(self.mode)
        if timeout is None:
            return None
        return max(0.0, self._last_activity + timeout - self._clock())

    def expire(self) -> bool:
        """End the visit (or staff mode) when it has been idle too long; True when it did."""
        if self.seconds_left() != 0.0:
            return False
        if self.mode is Mode.STAFF:
            self.leave_staff()
        else:
            self._wipe(Mode.IDLE)
        return True

    def _wipe(self, mode: Mode) -> None:
        self._replace_visit(Visit())
        self.mode = mode
        self.touch()

    def _start_visit(self) -> None:
        """The visit's first tap: it has begun (a later tap of the same visit changes nothing)."""
        if self.visit.started_at is None:
            self.visit.started_at = self._clock()
            self._on_visit_started(self.visit)

    def _replace_visit(self, visit: Visit) -> None:
        ended, self.visit = self.visit, visit
        if ended.started_at is not None:
            self._on_visit_closed(ended, max(0.0, self._clock() - ended.started_at))
        if ended.shopper is not None:
            self._on_visit_ended(ended)
