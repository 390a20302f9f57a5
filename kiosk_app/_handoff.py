"""The "continue on your phone" link of the current visit: HQ's signed, short-lived link
when HQ has given one, asked for off the screen's thread.

HQ signs the link (the kiosk holds no key) for one visit and, when the shopper signed in
and consented, for them: a visit whose identity changes (a card tap, a yes) needs a new
one, and so does a link about to expire. Until HQ answers, and whenever it cannot, the
screen keeps showing the plain product address. Each time HQ's link goes to the screen,
``on_shown`` hears of it (the kiosk records the visit's hand-off once).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kiosk_app.session import Visit
from kiosk_protocol import HandoffResponse

log = logging.getLogger(__name__)

# A link is not shown in its last minute: a phone needs a moment to open it.
RENEW_BEFORE_S = 60.0
# After HQ refused a visit's link, ask again only this much later (a refusal is HQ's word, not a hiccup).
RETRY_REFUSED_S = 60.0

RequestHandoff = Callable[[uuid.UUID, str | None, str | None], HandoffResponse | None]


@dataclass(frozen=True)
class _Link:
    visit: tuple[uuid.UUID, str | None]  # the visit's id and the identity the link names
    url: str
    expires_at: float  # wall clock, seconds


class HandoffLinks:
    """Asks HQ for hand-off links and keeps the current visit's.

    Args:
        request: asks HQ (the link's ``request_handoff``); None when HQ is out of reach.
        current_visit: the visit on the kiosk now, read on the screen's thread.
        dispatch: runs work on the screen's thread.
        clock: the wall clock (links expire by HQ's wall clock).
        on_shown: told on the screen's thread each time HQ's link goes to the screen (as QR code).
    """

    def __init__(self, request: RequestHandoff, current_visit: Callable[[], Visit],
                 dispatch: Callable[[Callable[[], None]], None], clock: Callable[[], float] = time.time,
                 on_shown: Callable[[], object] = lambda: None) -> None:
        self._request, self._current, self._dispatch, self._clock = request, current_visit, dispatch, clock
        self._on_shown = on_shown
        self._held: _Link | None = None
        self._asking: tuple[uuid.UUID, str | None] | None = None
        self._refused: tuple[tuple[uuid.UUID, str | None], float] | None = None
        self._on_link: Callable[[str], None] = lambda url: None

    def link(self, on_link: Callable[[str], None]) -> str | None:
        """The current visit's link if one is held and fresh; else None, and HQ is asked.

        ``on_link`` gets the link on the screen's thread when HQ's answer arrives, if the
        visit is still the one it was asked for (the latest caller's ``on_link`` only).
        """
        visit = self._current()
        key = (visit.id, visit.identity)
        now = self._clock()
        held = self._held
        if held is not None and held.visit == key and held.expires_at - RENEW_BEFORE_S > now:
            self._on_shown()
            return held.url
        self._held = None  # another visit's, or about to expire: nothing of one visit stays for the next
        self._on_link = on_link
        refused = self._refused
        if self._asking == key or (refused is not None and refused[0] == key and refused[1] > now):
            return None
        self._asking = key
        card = visit.card_token if visit.identity else None
        threading.Thread(target=self._ask, args=(key, card), name="handoff-link", daemon=True).start()
        return None

    def _ask(self, key: tuple[uuid.UUID, str | None], card: str | None) -> None:
        response = self._request(key[0], key[1], card)
        self._dispatch(lambda: self._take(key, response))

    def _take(self, key: tuple[uuid.UUID, str | None], response: HandoffResponse | None) -> None:
        """On the screen's thread: keep HQ's answer, and pass the link on if its visit is still on."""
        if self._asking == key:
            self._asking = None
        if response is None:
            return  # out of reach: the next screen that shows the code asks again
        if response.error or response.url is None or response.expires_at is None:
            log.warning("HQ gave no hand-off link for this visit: %s", response.error)
            self._refused = (key, self._clock() + RETRY_REFUSED_S)
            return
        self._held = _Link(key, response.url, response.expires_at.timestamp())
        visit = self._current()
        if (visit.id, visit.identity) == key:
            self._on_link(response.url)
            self._on_shown()
