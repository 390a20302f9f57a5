"""What a tap does at a kiosk: plain Python, no Kivy, nfcpy or paho.

A product tap looks the SKU up in the local catalog and records a ``product_view``
event in the outbox in one transaction; a suggestion touched on the screen shows its
product the same way and records a ``suggestion_tap`` (it is no tag tap); a loyalty-card
tap signs the shopper in (or out, when the same card is tapped again). A sign tap shows its
offer if it runs here now (by a clock the update path would trust, see ``_clock_trust``),
with the products it covers in stock here, and records an ``offer_tap``; a sign of another
shop is refused. Staff come in by
badge or by the PIN the screen checked, and leave by badge, by the screen or by idling.

For analytics the kiosk also records each visit's first tap (``visit_start``) and its end,
however it ends, with its length by the monotonic clock (``visit_end``); the suggestions
the product screen put on screen (``suggestion_shown``); and, once per visit, the QR code
that hands the visit off to the shopper's phone (``handoff``).

Events leave under the shopper's identity only after the shopper has consented on this
kiosk; until then they are anonymous, and HQ joins them to the profile only when the
consent event arrives. Every event that names the shopper carries the token of the
card read in the visit: HQ takes changes to a profile only on that proof, and whichever
of them reaches HQ first proves the visit.

While a shopper is signed in, their profile arrives from HQ (``take_profile``) and then
each change made to it in another channel (``take_change``, see ``_live_profile``): inputs
of the core like taps, applied to the visit's copy on the screen's thread.
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from backend_sync import Outbox, OutboxFull, OutboxUnavailable
from kiosk_app._clock_trust import clock_trusted
from kiosk_app._live_profile import ChangeVerdict, note_added, take_change, take_profile
from kiosk_app._offers import NO_OFFERS, covered_in_stock, unavailable_reason
from kiosk_app.session import Mode, SessionMachine, Visit
from kiosk_protocol import (
    LONGEST_VISIT_S,
    MAX_SHOWN,
    CardRefused,
    CardVerifier,
    Catalog,
    ConsentStatus,
    EventKind,
    Hlc,
    HlcClock,
    Offer,
    OfferState,
    PricedOffer,
    Product,
    ProfileChange,
    ProfileResponse,
    best_offer,
    encode_event,
    events_topic,
    new_event,
)
from nfc_reader import TagKind, TagRead
from recommender import Channel, HistoryEvent, Recommender, Suggestion

log = logging.getLogger(__name__)


class OutcomeKind(enum.Enum):
    """What the kiosk shows after a tap."""

    PRODUCT = "product"
    UNKNOWN_PRODUCT = "unknown_product"
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    CARD_REJECTED = "card_rejected"
    STAFF_SIGNED_IN = "staff_signed_in"
    STAFF_SIGNED_OUT = "staff_signed_out"
    BADGE_REJECTED = "badge_rejected"
    TAG_CHECKED = "tag_checked"  # staff mode: what a tag says, nothing recorded
    OFFER = "offer"  # a sign of an offer running here now: ``offer``, and ``products`` it covers in stock here
    OFFER_UNAVAILABLE = "offer_unavailable"  # a sign of an offer not on here now: ``offer_id``, ``offer`` if known
    LOCKED = "locked"  # out of service: the tap is not taken
    UNREADABLE = "unreadable"
    NOT_HANDLED = "not_handled"


@dataclass(frozen=True)
class TapOutcome:
    """The result of one tap, touch or PIN entry, for the screen."""

    kind: OutcomeKind
    product: Product | None = None
    event_id: uuid.UUID | None = None
    shopper: str | None = None  # the shopper signed in or out, or browsing signed in
    reason: str = ""
    suggestions: tuple[Suggestion, ...] = ()
    read: TagRead | None = None
    staff: str | None = None  # the member a staff badge names; None when the PIN opened staff mode
    offer: Offer | None = None
    offer_id: str | None = None
    products: tuple[Product, ...] = ()


@dataclass
class KioskCounters:
    """Things staff want counted."""

    taps: int = 0
    unreadable: int = 0
    unknown_products: int = 0
    rejected_cards: int = 0
    rejected_badges: int = 0
    foreign_signs: int = 0  # signs whose address is another shop's
    events_not_recorded: int = 0
    # Profile changes HQ pushed: taken, for no visit here now, had already, older than what the visit holds.
    changes_applied: int = 0
    changes_not_for_this_visit: int = 0
    changes_repeated: int = 0
    changes_outdated: int = 0


class Kiosk:
    """The kiosk's behaviour on taps, over a catalog and an outbox."""

    def __init__(self, catalog: Catalog, outbox: Outbox, store: str, kiosk: str, verify_card: CardVerifier,
                 recommender: Recommender | None = None, suggestions: int = 4,
                 verify_badge: CardVerifier | None = None, machine: SessionMachine | None = None,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.catalog = catalog
        self.offers = NO_OFFERS  # the catalog's offers (``_offers``), swapped with it
        # The newest time HQ signed that the kiosk verified (``_clock_trust``); None: none yet.
        self.signed_time: datetime | None = None
        self._wall_clock = wall_clock
        self.recommender = recommender
        self._suggestions = suggestions
        self.outbox = outbox
        self.store = store
        self.kiosk = kiosk
        self.machine = machine or SessionMachine()
        self.counters = KioskCounters()
        # The last event the outbox could not write for want of disk space (until one is written again).
        self.disk_full = False
        self._verify_card = verify_card
        self._verify_badge = verify_badge
        self._topic = events_topic(store, kiosk)
        self._clock = HlcClock(kiosk)
        self.machine.watch_visits(self._visit_started, self._visit_closed)

    @property
    def session(self) -> Visit:
        """The current shopper's visit (an empty one between shoppers)."""
        return self.machine.visit

    def handle(self, read: TagRead) -> TapOutcome:
        """Act on one tap and say what to show."""
        self.counters.taps += 1
        if read.kind is TagKind.STAFF_BADGE:
            return self._badge(read.token or "")
        if self.machine.mode is Mode.STAFF:
            return TapOutcome(OutcomeKind.TAG_CHECKED, read=read, product=self._product_of(read),
                              offer=self.offers.get(read.offer) if read.offer else None, offer_id=read.offer)
        if self.machine.mode is Mode.LOCKED:
            return TapOutcome(OutcomeKind.LOCKED, reason=self.machine.lock_reason or "")
        if read.kind is TagKind.PRODUCT and read.sku is not None:
            return self._show_product(read.sku)
        if read.kind is TagKind.SHOPPER_CARD and read.token is not None:
            return self._card(read.token)
        if read.kind is TagKind.OFFER and read.offer is not None:
            return self._sign(read)
        if read.kind is TagKind.UNREADABLE:
            self.counters.unreadable += 1
            log.info("unreadable tag %s: %s", read.uid, read.reason)
            return TapOutcome(OutcomeKind.UNREADABLE, reason=read.reason or "")
        return TapOutcome(OutcomeKind.NOT_HANDLED, reason=f"{read.kind.value} taps are not handled here")

    def try_tap(self, read: TagRead) -> TapOutcome:
        """What a product tap of ``read`` would show, with nothing recorded, counted or changed
        (a release's self-test tap)."""
        product = self._product_of(read) if read.kind is TagKind.PRODUCT else None
        if product is None or not product.sold_in(self.store):
            return TapOutcome(OutcomeKind.UNKNOWN_PRODUCT, reason=f"{read.sku} is not in this store's catalog")
        return TapOutcome(OutcomeKind.PRODUCT, product=product, suggestions=self._suggest(product))

    def touch_suggestion(self, sku: str, beside: str) -> TapOutcome:
        """A suggestion shown beside the product ``beside`` was touched: show it, and record a
        ``suggestion_tap`` (anonymous unless the shopper consented, like a view)."""
        if not self.machine.takes_shopper_taps:
            return TapOutcome(OutcomeKind.NOT_HANDLED,
                              reason=f"no suggestion is taken while the kiosk is {self.machine.mode.value}")
        return self._show_product(sku, EventKind.SUGGESTION_TAP, beside=beside)

    def open_product(self, sku: str) -> TapOutcome:
        """A product card touched on the screen (an offer's): shown like a tapped one and recorded as a
        ``product_view``, but no tag tap is counted."""
        if not self.machine.takes_shopper_taps:
            return TapOutcome(OutcomeKind.NOT_HANDLED,
                              reason=f"no product is shown while the kiosk is {self.machine.mode.value}")
        return self._show_product(sku)

    def suggestions_shown(self, beside: str, shown: Sequence[str]) -> uuid.UUID | None:
        """The product screen put the suggestions ``shown`` (in screen order) beside the product ``beside``:
        record a ``suggestion_shown``, anonymous unless the shopper consented, like a view.

        Returns:
            The event's id; None when nothing was recorded (no suggestion, no shopper's visit, outbox full).
        """
        skus = tuple(dict.fromkeys(shown))[:MAX_SHOWN]
        if not skus or self.session.started_at is None or not self.machine.takes_shopper_taps:
            return None
        return self._record(EventKind.SUGGESTION_SHOWN, self.session.identity, shown=skus, beside=beside)

    def handoff_shown(self) -> uuid.UUID | None:
        """The QR code that continues the visit on the shopper's phone is on screen: record a ``handoff``,
        once per visit however often the code is shown again.

        Returns:
            The event's id; None when nothing was recorded (no shopper's visit, recorded already, outbox full).
        """
        visit = self.session
        if visit.started_at is None or visit.handoff_shown or not self.machine.takes_shopper_taps:
            return None
        event_id = self._record(EventKind.HANDOFF, visit.identity)
        visit.handoff_shown = event_id is not None
        return event_id

    def staff_pin_accepted(self) -> TapOutcome:
        """The screen checked the staff PIN and it was right: staff mode, with no one named."""
        self.machine.enter_staff(None)
        return TapOutcome(OutcomeKind.STAFF_SIGNED_IN)

    def leave_staff(self) -> TapOutcome:
        """Staff closed staff mode on the screen (back to shoppers, or out of service while locked)."""
        if self.machine.mode is not Mode.STAFF:
            return TapOutcome(OutcomeKind.NOT_HANDLED, reason="the kiosk is not in staff mode")
        member = self.machine.staff_member
        self.machine.leave_staff()
        return TapOutcome(OutcomeKind.STAFF_SIGNED_OUT, staff=member)

    def consent(self, granted: bool) -> None:
        """Record the signed-in shopper's answer to linking this visit to their profile.

        Either answer is sent to HQ (it is the shopper's own record); only a yes lets
        this visit's views join their profile, those from before the card tap too: the
        consent names the visit, and HQ moves its anonymous views when it stores it.
        """
        if self.session.shopper is None:
            return
        self.session.consented = granted
        status = ConsentStatus.GRANTED if granted else ConsentStatus.DENIED
        hlc = str(self._clock.now())
        if self._record(EventKind.CONSENT, self.session.shopper, consent=status, hlc=hlc) is not None:
            self.session.stamps["consent"] = hlc  # an older consent pushed from elsewhere does not undo it

    def set_wishlist(self, sku: str, wanted: bool) -> bool:
        """Add a product to (or take it off) the signed-in, consenting shopper's wishlist.

        Returns False when nobody who agreed to it is signed in.
        """
        if self.session.identity is None or self.catalog.product(sku) is None:
            return False
        kind = EventKind.WISHLIST_ADD if wanted else EventKind.WISHLIST_REMOVE
        hlc = str(self._clock.now())
        if self._record(kind, self.session.identity, sku=sku, hlc=hlc) is None:
            return False
        self.session.stamps[f"wishlist:{sku}"] = hlc  # an older change pushed from elsewhere does not undo it
        if wanted:
            self.session.wishlist.add(sku)
            note_added(self.session, sku)
        else:
            self.session.wishlist.discard(sku)
        return True

    def clock_trusted(self) -> bool:
        """Whether offers may go by this kiosk's wall clock: not more than the update path's
        skew (``MAX_CLOCK_SKEW_S``) behind the newest time HQ signed that it verified."""
        return clock_trusted(self._wall_clock(), self.signed_time)

    @property
    def member(self) -> bool:
        """Whether the visit has a signed-in shopper whose card was checked (members' offers are theirs)."""
        return self.session.shopper is not None and self.session.card_token is not None

    def offer_price(self, product: Product) -> PricedOffer | None:
        """The best offer on ``product`` here now and its price; None if none, or while the clock is not trusted."""
        if not self.clock_trusted():
            return None
        return best_offer(self.offers.offers, product, self.store, self._wall_clock(), member=self.member)

    def save_coupon(self, offer_id: str) -> bool:
        """Save a members' offer running here now to the signed-in, consenting shopper's card.

        Records a ``coupon_save`` (HLC-stamped, as wishlist changes are) unless the visit
        already holds the coupon. Returns False when the offer is not one to save here now,
        or nobody who agreed to it is signed in.
        """
        offer = self._running_here(offer_id)
        shopper = self.session.identity
        if offer is None or not offer.for_members() or shopper is None or not self.member:
            return False
        if offer_id in self.session.coupons:
            return True  # saved already: nothing more to record
        hlc = str(self._clock.now())
        if self._record(EventKind.COUPON_SAVE, shopper, offer=offer_id, hlc=hlc) is None:
            return False
        self.session.stamps[f"coupon:{offer_id}"] = hlc  # a profile pulled before HQ has the save keeps it
        self.session.coupons.add(offer_id)
        return True

    def end_session(self, erased: bool = False) -> None:
        """Forget the current visit (idle timeout or sign-out).

        ``erased``: the shopper's profile is gone, so the visit's end no longer names them.
        """
        if erased:
            self.session.consented = False
        self.machine.end_visit()

    def take_profile(self, response: ProfileResponse) -> list[tuple[ProfileChange, ChangeVerdict]]:
        """The signed-in shopper's profile arrived: it is the visit's copy now, with the changes that waited for it.

        Returns:
            Each change that waited, and what became of it (as ``take_change`` says).
        """
        return [(change, self._counted(change, verdict))
                for change, verdict in take_profile(self.session, response, time.time(), self._clock.node)]

    def take_change(self, change: ProfileChange) -> ChangeVerdict:
        """HQ pushed a change to the signed-in shopper's profile made elsewhere: apply it if it is news to this visit.

        An erase ends the visit.
        """
        return self._counted(change, take_change(self.session, change))

    def _counted(self, change: ProfileChange, verdict: ChangeVerdict) -> ChangeVerdict:
        if change.hlc is not None and verdict is not ChangeVerdict.NOT_THIS_VISIT:
            self._clock.observe(Hlc.parse(change.hlc))  # a change made here next is ordered after it
        counters = self.counters
        if verdict in (ChangeVerdict.APPLIED, ChangeVerdict.ERASED):
            counters.changes_applied += 1
        elif verdict is ChangeVerdict.NOT_THIS_VISIT:
            counters.changes_not_for_this_visit += 1
        elif verdict is ChangeVerdict.REPEAT:
            counters.changes_repeated += 1
        elif verdict is ChangeVerdict.OUTDATED:
            counters.changes_outdated += 1
        if verdict is ChangeVerdict.ERASED:
            self.end_session(erased=True)
        return verdict

    def _show_product(self, sku: str, kind: EventKind = EventKind.PRODUCT_VIEW, **details: object) -> TapOutcome:
        product = self.catalog.product(sku)
        if product is None or not product.sold_in(self.store):
            self.counters.unknown_products += 1
            return TapOutcome(OutcomeKind.UNKNOWN_PRODUCT, reason=f"{sku} is not in this store's catalog")
        self.machine.browse()
        self.session.viewed.append(HistoryEvent(sku, time.time(), Channel.KIOSK))
        return TapOutcome(OutcomeKind.PRODUCT, product=product,
                          event_id=self._record(kind, self.session.identity, sku=sku, **details),
                          shopper=self.session.shopper, suggestions=self._suggest(product))

    def _sign(self, read: TagRead) -> TapOutcome:
        """A sign: its offer if it runs here now, else why not; a sign of another shop is refused."""
        assert read.offer is not None
        # The reader does not know the shop: a sign read from an address names its host, checked here.
        shop = urlsplit(self.catalog.shop_url).hostname
        if read.host is not None and read.host != shop:
            self.counters.foreign_signs += 1
            log.info("sign %s of another shop (%s) tapped", read.offer, read.host)
            return TapOutcome(OutcomeKind.UNREADABLE, read=read, offer_id=read.offer,
                              reason=f"this sign is another shop's ({read.host}), not {shop}'s")
        self.machine.browse()
        event_id = self._record(EventKind.OFFER_TAP, self.session.identity, offer=read.offer)
        known, offer, trusted = self.offers.get(read.offer), self._running_here(read.offer), self.clock_trusted()
        if offer is None:
            return TapOutcome(OutcomeKind.OFFER_UNAVAILABLE, offer_id=read.offer, event_id=event_id,
                              shopper=self.session.shopper, offer=known if trusted else None,
                              reason=unavailable_reason(read.offer, known, self.store, self._wall_clock(), trusted))
        return TapOutcome(OutcomeKind.OFFER, offer=offer, offer_id=offer.id, event_id=event_id,
                          shopper=self.session.shopper, products=covered_in_stock(self.catalog, offer, self.store))

    def _running_here(self, offer_id: str) -> Offer | None:
        """The offer if it runs in this store now by a trusted clock."""
        offer = self.offers.get(offer_id)
        if offer is None or not offer.runs_in(self.store) or not self.clock_trusted():
            return None
        return offer if offer.state(self._wall_clock()) is OfferState.RUNNING else None

    def _suggest(self, product: Product) -> tuple[Suggestion, ...]:
        """Suggestions for the product in view: in stock in this store, explained."""
        if self.recommender is None:
            return ()

        def in_stock_here(sku: str) -> bool:
            item = self.catalog.product(sku)
            return item is not None and item.sold_in(self.store) and any(item.stock_in(self.store).values())

        history = [*self.session.synced, *self.session.viewed]
        return self.recommender.suggest(history, self.store, in_view=(product.sku,), k=self._suggestions,
                                        in_stock=in_stock_here).items

    def _visit_started(self, visit: Visit) -> None:
        self._record_in(visit, EventKind.VISIT_START, visit.identity)

    def _visit_closed(self, visit: Visit, dwell_s: float) -> None:
        """A visit ended (the machine is on the next one already): its end, named as its events were."""
        self._record_in(visit, EventKind.VISIT_END, visit.identity, dwell_s=min(round(dwell_s), LONGEST_VISIT_S))

    def _record(self, kind: EventKind, shopper: str | None, **details: object) -> uuid.UUID | None:
        """Commit one event of the current visit to the outbox (see ``_record_in``)."""
        return self._record_in(self.session, kind, shopper, **details)

    def _record_in(self, visit: Visit, kind: EventKind, shopper: str | None, **details: object) -> uuid.UUID | None:
        """Commit one event of ``visit`` to the outbox; anonymous ones may be dropped when it is full.

        A storage fault (a full disk) loses this event, counted, and never the tap: the
        shopper still sees the product.
        """
        event_id, session = uuid.uuid4(), visit.id
        if shopper is not None:
            details["card"] = visit.card_token

        def payload(seq: int) -> bytes:
            return encode_event(new_event(kind=kind, store=self.store, kiosk=self.kiosk, seq=seq, session=session,
                                          shopper=shopper, event_id=event_id, **details))

        try:
            self.outbox.enqueue(self._topic, payload, droppable=shopper is None)
        except OutboxFull as exc:
            self.counters.events_not_recorded += 1
            log.warning("%s not recorded: %s", kind.value, exc)
            return None
        except OutboxUnavailable as exc:
            self.counters.events_not_recorded += 1
            if exc.disk_full and not self.disk_full:
                log.error("the kiosk's disk is full: events are not recorded until there is space")
            self.disk_full = exc.disk_full
            log.warning("%s not recorded: %s", kind.value, exc)
            return None
        self.disk_full = False
        return event_id

    def _card(self, token: str) -> TapOutcome:
        try:
            shopper = self._verify_card(token)
        except CardRefused as exc:
            self.counters.rejected_cards += 1
            return TapOutcome(OutcomeKind.CARD_REJECTED, reason=str(exc))
        if not self.machine.card(shopper, token):
            return TapOutcome(OutcomeKind.SIGNED_OUT, shopper=shopper)
        return TapOutcome(OutcomeKind.SIGNED_IN, shopper=shopper)

    def _badge(self, token: str) -> TapOutcome:
        """A staff badge opens staff mode; the same badge again closes it."""
        try:
            if self._verify_badge is None:
                raise CardRefused("this kiosk takes no staff badges")
            member = self._verify_badge(token)
        except CardRefused as exc:
            self.counters.rejected_badges += 1
            return TapOutcome(OutcomeKind.BADGE_REJECTED, reason=str(exc))
        if self.machine.mode is Mode.STAFF and self.machine.staff_member == member:
            self.machine.leave_staff()
            return TapOutcome(OutcomeKind.STAFF_SIGNED_OUT, staff=member)
        self.machine.enter_staff(member)
        return TapOutcome(OutcomeKind.STAFF_SIGNED_IN, staff=member)

    def _product_of(self, read: TagRead) -> Product | None:
        return self.catalog.product(read.sku) if read.sku else None
