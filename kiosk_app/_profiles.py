"""A signed-in shopper's profile: HQ's answer when HQ is in reach, what this kiosk last
knew of it when not, and the history it gives the recommender."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from backend_sync import ProfileCache
from kiosk_protocol import ProfileResponse
from recommender import Channel, HistoryEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShopperProfile:
    """A signed-in shopper's profile, and whether it came from this kiosk's cache."""

    response: ProfileResponse
    from_cache: bool

    @property
    def display_name(self) -> str | None:
        """The name the shopper gave to be greeted by, if any (HQ sends it from version 2 on)."""
        return self.response.display_name

    @property
    def coupons(self) -> tuple[str, ...]:
        """The offer ids of the shopper's coupons with redemptions left (HQ sends them from version 3 on)."""
        return self.response.coupons


def fetch_profile(request_profile: Callable[[str, str], ProfileResponse | None], cache: ProfileCache,
                  shopper: str, card_token: str) -> ShopperProfile | None:
    """HQ's profile of ``shopper`` (kept in ``cache``), or the cached one when HQ does not answer.

    Args:
        request_profile: asks HQ, with the card's token as proof; None when HQ is out of reach.
        cache: this kiosk's profile cache.
        shopper: the shopper the card names.
        card_token: the signed token read from the card.

    Returns:
        The profile, or None when HQ refused it (the cache is not asked then: HQ said no)
        or neither HQ nor the cache has one.
    """
    response = request_profile(shopper, card_token)
    if response is not None and response.error is None:
        cache.put(response)
        return ShopperProfile(response, from_cache=False)
    if response is not None:
        log.warning("HQ refused the profile of the signed-in shopper: %s", response.error)
        return None
    cached = cache.get(shopper)
    return ShopperProfile(cached, from_cache=True) if cached else None


def synced_history(response: ProfileResponse, now: float) -> list[HistoryEvent]:
    """The shopper's recent views on every channel, oldest first for the recommender (HQ sends newest first)."""
    return [HistoryEvent(sku, now - n, Channel.STORE) for n, sku in reversed(list(enumerate(response.recent_skus, 1)))]


def profile_from_hq(request_profile: Callable[[str, str], ProfileResponse | None], cache: ProfileCache,
                    shopper: str, card_token: str, still_wanted: Callable[[], bool],
                    wait_connected: Callable[[float], bool], patience_s: float = 60.0,
                    link_wait_s: float = 1.0) -> ShopperProfile | None:
    """HQ's own answer (kept in ``cache``), never the cache's, asked again until it comes.

    After a reconnect a signed-in visit asks HQ again: only HQ's answer tells HQ where the
    shopper stands again, and the visit already holds a copy at least as new as the
    cache's. A request lost in the moments after a reconnect (the link down again, an
    answer too late) is asked again, while ``still_wanted`` and for ``patience_s`` at most.

    Returns:
        The profile; None when HQ refused it, the visit ended, or HQ never answered.
    """
    deadline = time.monotonic() + patience_s
    while still_wanted() and time.monotonic() < deadline:
        response = request_profile(shopper, card_token)
        if response is None:
            wait_connected(min(link_wait_s, max(0.0, deadline - time.monotonic())))
            continue
        if response.error is not None:
            log.warning("HQ refused the profile of the signed-in shopper: %s", response.error)
            return None
        cache.put(response)
        return ShopperProfile(response, from_cache=False)
    return None
