"""The signed-in shopper's profile during their visit at a kiosk: ``VisitProfile``.

At sign-in the profile is pulled from HQ off the screen's thread (what this kiosk last knew
of it when HQ is out of reach), and the request names the visit, so HQ pushes it the
profile's later changes. Once the link is up again a signed-in visit asks HQ again: HQ
stopped pushing when the kiosk went offline. Each pushed change goes into the visit's copy
on the screen's thread and onto the screen; an erase signs the shopper out and forgets them
here too, as HQ's forget order would.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable

from backend_sync import KioskLink, ProfileCache
from kiosk_app._live_profile import ChangeVerdict
from kiosk_app._profiles import ShopperProfile, fetch_profile, profile_from_hq
from kiosk_app.kiosk import Kiosk, OutcomeKind, TapOutcome
from kiosk_protocol import ProfileChange, ProfileResponse, shopper_hash


class VisitProfile:
    """Pulls the signed-in shopper's profile from HQ and takes HQ's pushed changes to it.

    Args:
        kiosk: the Kiosk whose visit holds the profile's copy.
        link: the link HQ is asked and pushes through.
        cache: this kiosk's profile cache.
        dispatch: runs work on the screen's thread.
        on_profile: the screen's callback once the profile is in the visit.
        on_profile_change: the screen's callback once a pushed change is in the visit.
        on_outcome: the screen's callback for an outcome (a sign-out when the profile is erased).
    """

    def __init__(self, kiosk: Kiosk, link: KioskLink, cache: ProfileCache,
                 dispatch: Callable[[Callable[[], None]], None], on_profile: Callable[[ShopperProfile], None],
                 on_profile_change: Callable[[ProfileChange], None],
                 on_outcome: Callable[[TapOutcome], None]) -> None:
        self._kiosk = kiosk
        self._link = link
        self._cache = cache
        self._dispatch = dispatch
        self._on_profile = on_profile
        self._on_profile_change = on_profile_change
        self._on_outcome = on_outcome

    def fetch(self, shopper: str, card_token: str, session: uuid.UUID | None = None) -> ShopperProfile | None:
        """The shopper's profile from HQ, or what this kiosk last knew of it when HQ is out of reach.

        With ``session`` (the visit signed in), HQ pushes that visit the profile's later changes.
        """
        def request(shopper: str, card_token: str) -> ProfileResponse | None:
            return self._link.request_profile(shopper, card_token, session=session)

        return fetch_profile(request, self._cache, shopper, card_token)

    def pull(self, shopper: str, card_token: str, session: uuid.UUID) -> None:
        """The visit ``session`` signed ``shopper`` in: fetch their profile, off the screen's thread."""
        # The network round trip stays off the screen's thread.
        threading.Thread(target=self._pull, args=(shopper, card_token, session), daemon=True).start()

    def pull_again(self) -> None:
        """Connected again: a signed-in visit asks HQ again, which pushes to it again (its last will ended that)."""
        visit = self._kiosk.session
        if visit.shopper and visit.card_token and visit.changes_seen is not None:
            threading.Thread(target=self._ask_hq_again, args=(visit.shopper, visit.card_token, visit.id),
                             daemon=True).start()

    def take_change(self, change: ProfileChange) -> None:
        """A change HQ pushed, on the screen's thread: into the visit's copy, and onto the screen."""
        shopper = self._kiosk.session.shopper
        self._tell_screens(change, self._kiosk.take_change(change), shopper)

    def _pull(self, shopper: str, card_token: str, session: uuid.UUID) -> None:
        profile = self.fetch(shopper, card_token, session)
        if profile is not None:
            self._dispatch(lambda: self._use_profile(profile, session))

    def _ask_hq_again(self, shopper: str, card_token: str, session: uuid.UUID) -> None:
        profile = profile_from_hq(lambda s, t: self._link.request_profile(s, t, session=session), self._cache,
                                  shopper, card_token, still_wanted=lambda: self._kiosk.session.id == session,
                                  wait_connected=self._link.wait_connected)
        if profile is not None:
            self._dispatch(functools.partial(self._use_profile, profile, session))

    def _use_profile(self, profile: ShopperProfile, session: uuid.UUID) -> None:
        if self._kiosk.session.id != session:  # that visit is over
            return
        waited = self._kiosk.take_profile(profile.response)
        if self._kiosk.session.id == session:  # not ended by an erase that waited for the profile
            self._on_profile(profile)
        for change, verdict in waited:
            self._tell_screens(change, verdict, profile.response.shopper)

    def _tell_screens(self, change: ProfileChange, verdict: ChangeVerdict, shopper: str | None) -> None:
        if verdict is ChangeVerdict.APPLIED:
            self._on_profile_change(change)
        elif verdict is ChangeVerdict.ERASED and shopper is not None:  # the visit has ended; as HQ's forget order
            self._cache.forget(shopper_hash(shopper))
            self._on_outcome(TapOutcome(OutcomeKind.SIGNED_OUT, shopper=shopper))
