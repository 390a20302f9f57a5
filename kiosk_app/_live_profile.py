"""The signed-in shopper's profile as the visit holds it, kept current while they stand here:
plain Python over a ``Visit``, no I/O.

At sign-in the kiosk pulls the profile (``take_profile``), and again once its link is back
after a loss (the profile then replaces the copy, but for what this kiosk changed in the
visit: HQ may not have it yet); then HQ pushes each change made in another channel
(``take_change``). A pushed change is taken

- only for the visit it names (one that arrives after sign-out, or for another visit, is
  dropped), and only once: its cursor must be past the last one the visit has, and past
  the cursor the pulled profile is as of (what the profile already holds);
- only when it is newer, by HLC, than what the visit holds for the same wishlist item,
  preference, name, consent or coupon (HQ's own merge rule), so a change made here a
  moment later is not undone by an older one from elsewhere; a coupon's redemption, an
  order and a reservation's new state have no HLC and are taken in cursor order (a coupon
  used up leaves ``Visit.coupons``, a reservation that holds no stock any more leaves
  ``Visit.reservations``);
- after the pulled profile: one pushed before it arrives waits for it.

A consent other than ``granted`` from another channel ends the linking of this visit
(its events are anonymous again, as before the shopper's yes); a ``granted`` one does
not start it: linking a visit is the shopper's answer here. An erase ends the visit.
"""

from __future__ import annotations

import enum

from kiosk_app._profiles import synced_history
from kiosk_app.session import Visit
from kiosk_protocol import MAX_ORDERS, ChangeKind, ConsentStatus, Hlc, ProfileChange, ProfileResponse

MAX_WAITING = 100  # changes held for a profile still on its way; more are dropped
# Kinds without an HLC: a redemption only ever uses a coupon up, an order is made once, and a
# reservation's state moves one way; the change log's cursor orders them.
_ORDERED_BY_CURSOR = frozenset({ChangeKind.COUPON_REDEEMED, ChangeKind.ORDER_PLACED, ChangeKind.RESERVATION})


class ChangeVerdict(enum.Enum):
    """What became of a pushed change."""

    APPLIED = "applied"
    WAITING = "waiting"  # for the pulled profile, applied once it is in
    NOT_THIS_VISIT = "not_this_visit"  # another visit's, an ended one's, or one too many waiting
    REPEAT = "repeat"  # a cursor the visit already has
    OUTDATED = "outdated"  # older than what the visit holds for the same item
    ERASED = "erased"  # the profile is gone: the visit must end


def stamp_key(change: ProfileChange) -> str:
    """Which part of the profile a change merges into, as ``Visit.stamps`` names it."""
    if change.kind in (ChangeKind.WISHLIST_ADD, ChangeKind.WISHLIST_REMOVE):
        return f"wishlist:{change.sku}"
    if change.kind is ChangeKind.PREFERENCE:
        return f"preference:{change.key}"
    if change.kind in (ChangeKind.COUPON_SAVED, ChangeKind.COUPON_REDEEMED):
        return f"coupon:{change.offer}"
    return change.kind.value


def take_profile(visit: Visit, response: ProfileResponse, now: float,
                 here: str) -> list[tuple[ProfileChange, ChangeVerdict]]:
    """Put the pulled profile in the visit, then the changes that waited for it; returns those, with their verdicts.

    Wishlist items this kiosk (HLC node ``here``) changed in the visit keep their state, and
    coupons it saved in the visit (stamped ``coupon:<offer>``) stay saved.
    """
    made_here = {sku: sku in visit.wishlist for key, stamp in visit.stamps.items()
                 if (sku := key.removeprefix("wishlist:")) != key and Hlc.parse(stamp).node == here}
    visit.synced = synced_history(response, now)
    visit.wishlist = {sku for sku in response.wishlist if made_here.get(sku, True)} | {
        sku for sku, wanted in made_here.items() if wanted}
    visit.display_name = response.display_name
    visit.preferences = dict(response.preferences)
    visit.coupons = set(response.coupons) | {offer for key, stamp in visit.stamps.items()
                                             if (offer := key.removeprefix("coupon:")) != key
                                             and Hlc.parse(stamp).node == here}
    visit.orders = list(response.orders)
    visit.reservations = {r.reservation_id: r for r in response.reservations if r.state.holds_stock}
    visit.changes_seen = max(visit.changes_seen or 0, response.cursor or 0)
    waiting, visit.waiting = sorted(visit.waiting, key=lambda change: change.cursor), []
    return [(change, take_change(visit, change)) for change in waiting]


def take_change(visit: Visit, change: ProfileChange) -> ChangeVerdict:
    """Apply one pushed change to ``visit``'s copy of the profile, if it is for it and news to it."""
    if visit.shopper is None or change.session != visit.id:
        return ChangeVerdict.NOT_THIS_VISIT
    if visit.changes_seen is None:
        if len(visit.waiting) >= MAX_WAITING:
            return ChangeVerdict.NOT_THIS_VISIT
        visit.waiting.append(change)
        return ChangeVerdict.WAITING
    if change.cursor <= visit.changes_seen:
        return ChangeVerdict.REPEAT
    visit.changes_seen = change.cursor
    if change.kind is ChangeKind.ERASE:
        return ChangeVerdict.ERASED
    key = stamp_key(change)
    if change.kind in _ORDERED_BY_CURSOR:  # no HLC: the log's cursor orders them
        _apply(visit, change)
        return ChangeVerdict.APPLIED
    if change.hlc is None or change.hlc <= visit.stamps.get(key, ""):  # HLC text sorts as the stamps do
        return ChangeVerdict.OUTDATED
    visit.stamps[key] = change.hlc
    _apply(visit, change)
    return ChangeVerdict.APPLIED


def _apply(visit: Visit, change: ProfileChange) -> None:
    if change.kind is ChangeKind.WISHLIST_ADD and change.sku:
        visit.wishlist.add(change.sku)
        note_added(visit, change.sku)
    elif change.kind is ChangeKind.WISHLIST_REMOVE and change.sku:
        visit.wishlist.discard(change.sku)
    elif change.kind is ChangeKind.PREFERENCE and change.key and change.value is not None:
        visit.preferences[change.key] = change.value
    elif change.kind is ChangeKind.DISPLAY_NAME:
        visit.display_name = change.display_name
    elif change.kind is ChangeKind.CONSENT and change.consent is not ConsentStatus.GRANTED:
        visit.consented = False
    elif change.kind is ChangeKind.COUPON_SAVED and change.offer:
        visit.coupons.add(change.offer)
    elif change.kind is ChangeKind.COUPON_REDEEMED and change.offer and change.left == 0:
        visit.coupons.discard(change.offer)
    elif change.kind is ChangeKind.ORDER_PLACED and change.order:
        visit.orders = [change.order, *(o for o in visit.orders if o.order_id != change.order.order_id)][:MAX_ORDERS]
    elif change.kind is ChangeKind.RESERVATION and change.reservation:
        reservation = change.reservation
        if reservation.state.holds_stock:
            visit.reservations[reservation.reservation_id] = reservation
        else:
            visit.reservations.pop(reservation.reservation_id, None)


def note_added(visit: Visit, sku: str) -> None:
    """``sku`` joined the wishlist in this visit: it is the newest there."""
    if sku in visit.added:
        visit.added.remove(sku)
    visit.added.append(sku)
