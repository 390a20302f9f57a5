"""What the kiosk's screens may ask of its runtime: ``KioskControls``, which ``KioskRuntime`` is.

The screens read the kiosk's state and hand it what shoppers and staff do only through
this face, never through the runtime's parts (its Kiosk, reader, link or outbox). What
a tap, a touched suggestion, the PIN or leaving staff mode comes to is decided by the
``Kiosk`` and reaches the screen the same way for all of them: the ``on_outcome`` the
window gave the runtime, as do ``on_profile``, ``on_profile_change`` (a change to the
signed-in shopper's profile made in another channel, already in ``state.visit``),
``on_store_news`` (a request of the visit moved on, a product's free units or the store's
open requests changed), ``on_remote``, ``on_catalog`` and ``on_reader_status``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from kiosk_app._reservations import RequestRefusal
from kiosk_app.runtime import KioskHealth
from kiosk_app.session import Mode, Visit
from kiosk_app.staff import PinCheck
from kiosk_protocol import Catalog, OfferList, OpenRequest, PricedOffer, Product, ReservationKind
from nfc_reader import WriteResult


class SessionView(Protocol):
    """The kiosk's mode and the current visit, to read (``SessionMachine`` is one)."""

    @property
    def mode(self) -> Mode:
        """Attract loop, browsing, signed in, staff or locked."""

    @property
    def visit(self) -> Visit:
        """The current shopper's visit (an empty one between shoppers)."""

    @property
    def staff_member(self) -> str | None:
        """The member whose badge opened staff mode (None when the PIN did, or out of staff mode)."""

    @property
    def lock_reason(self) -> str | None:
        """Who took the kiosk out of service ("staff", "hq"), or None when it is in service."""


class KioskControls(Protocol):
    """Everything the kiosk's screens use of the runtime, on the screen's thread."""

    @property
    def catalog(self) -> Catalog:
        """The catalog in use; HQ's newer one replaces it between taps (``on_catalog`` says when)."""

    @property
    def catalog_file(self) -> Path:
        """The file of the catalog in use: its images are found next to it."""

    @property
    def state(self) -> SessionView:
        """The kiosk's mode and visit."""

    @property
    def backlog(self) -> int:
        """How many events HQ has not confirmed yet."""

    @property
    def broker_connected(self) -> bool:
        """Whether the link to the broker is up."""

    def health(self) -> KioskHealth:
        """A snapshot of every part's state, for staff mode."""

    def note_activity(self) -> None:
        """Someone touched the screen: the idle countdown starts again."""

    def expire_idle(self) -> bool:
        """End the visit or staff mode once idle too long; True when it did (the screen then wipes the visit)."""

    def consent(self, granted: bool) -> None:
        """The signed-in shopper's answer to linking this visit to their profile."""

    def set_wishlist(self, sku: str, wanted: bool) -> bool:
        """Put ``sku`` on the consenting shopper's wishlist or take it off.

        Returns:
            False when nobody who agreed to it is signed in (or the change was not recorded).
        """

    def handoff_link(self, on_link: Callable[[str], None]) -> str | None:
        """The link that continues this visit on the shopper's phone, signed by HQ, single-use and short-lived.

        Returns:
            The link when one for this visit (and its shopper, if they consented) is held
            and fresh; else None: HQ is asked, off the screen's thread, and ``on_link`` gets
            the link on the screen's thread if it answers while the visit lasts. Offline,
            no answer comes: the screen keeps the plain product address.
        """

    def touch_suggestion(self, sku: str, beside: str) -> None:
        """The shopper touched the suggestion ``sku`` shown beside the product ``beside``.

        The product it shows (or why not) comes through ``on_outcome``.
        """

    def suggestions_shown(self, beside: str, shown: Sequence[str]) -> None:
        """The product screen put the suggestions ``shown`` on screen, in screen order, beside the product
        ``beside`` (recorded for analytics, anonymous unless the shopper consented)."""

    @property
    def offers(self) -> OfferList:
        """The offers the kiosk runs on; swapped with the catalog (``on_catalog`` says when)."""

    def offer_price(self, product: Product) -> PricedOffer | None:
        """The best offer running here now for ``product`` and its price after it (members' ones for a
        signed-in shopper); None when none applies or the kiosk's clock is not trusted."""

    def save_coupon(self, offer_id: str) -> bool:
        """Save the offer to the signed-in, consenting shopper's card, as a coupon in their profile.

        Returns:
            False when nobody who agreed to it is signed in (or the save was not recorded).
        """

    def open_product(self, sku: str) -> None:
        """The shopper touched a product card that is no suggestion (an offer's): show it, counted as no tag tap.

        The product it shows (or why not) comes through ``on_outcome``.
        """

    def free_units(self, sku: str) -> dict[str, int] | None:
        """Units free per size of ``sku`` here: HQ's figures once they came, else the catalog's.

        Returns:
            None when the product is not sold here.
        """

    def reserve(self, sku: str, size: str, kind: ReservationKind) -> RequestRefusal | None:
        """Ask HQ to hold ``sku`` in ``size`` for the visit (a fitting room, or to collect).

        Returns:
            None once asked: the ask is in ``state.visit.requests`` at once, and HQ's answer
            and updates follow through ``on_store_news``; else why the kiosk did not ask.
        """

    @property
    def open_requests(self) -> tuple[OpenRequest, ...]:
        """The store's open requests as HQ lists them, oldest first, for staff mode."""

    def enter_staff_pin(self, attempt: str) -> PinCheck:
        """Check a PIN typed on the pad; the right one opens staff mode (told through ``on_outcome``).

        Returns:
            The verdict, with the tries left or the wait when it was not accepted.
        """

    def leave_staff(self) -> None:
        """Staff leave from the screen (told through ``on_outcome``); a tag write waiting is cancelled."""

    def sync_now(self) -> None:
        """Send every event HQ has not confirmed yet, and the status, without waiting."""

    def lock(self, reason: str) -> None:
        """Take the kiosk out of service until someone unlocks it, across restarts."""

    def unlock(self) -> None:
        """Put the kiosk back in service."""

    def write_product_tag(self, sku: str, timeout_s: float) -> Future[WriteResult]:
        """Write the product tag of ``sku`` on the next tag held to the reader, and read it back.

        Returns:
            A future settled on the reader's thread, with the write's result or why it failed.

        Raises:
            NfcReaderError: the reader cannot write now (offline or stopped).
        """
