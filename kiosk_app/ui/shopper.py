"""The shopper's screens: the attract loop's featured products, the product in view with
its suggestions and wishlist button, and the welcome with the consent question and the
profile HQ sent."""

from __future__ import annotations

import dataclasses

from kiosk_app.controls import KioskControls
from kiosk_app.runtime import ShopperProfile
from kiosk_app.ui.host import Host
from kiosk_app.ui.present import (
    featured_products,
    greeting,
    image_path,
    product_view,
    profile_cards,
    recent_skus,
    suggestion_views,
)
from kiosk_protocol import Product
from recommender import Suggestion


class ShopperScreens:
    """What one shopper sees: kept until the visit ends, rendered again in each language."""

    def __init__(self, controls: KioskControls, host: Host, store: str) -> None:
        self._controls = controls
        self._host = host
        self._store = store
        self._product: Product | None = None
        self._suggestions: tuple[Suggestion, ...] = ()
        self._shopper = ""
        self._profile: ShopperProfile | None = None
        self._consent_answer: bool | None = None
        self._featured = featured_products(controls.catalog)

    def show_product(self, product: Product, suggestions: tuple[Suggestion, ...]) -> None:
        """Fill the product screen with ``product`` and its suggestions."""
        self._product, self._suggestions = product, suggestions
        self._render_product()

    def welcome(self, shopper: str) -> None:
        """A shopper signed in: a fresh welcome, their profile to follow."""
        self.forget()
        self._shopper = shopper
        self._render_welcome()

    def touch_suggestion(self, sku: str) -> None:
        """The shopper touched a suggestion card: the kiosk shows it, recorded as a touch beside the product in view."""
        if self._product is not None:
            self._controls.touch_suggestion(sku, beside=self._product.sku)

    def answer_consent(self, granted: bool) -> None:
        """Record the shopper's answer to linking this visit; the welcome stays with their lists."""
        self._controls.consent(granted)
        self._consent_answer = granted
        self._host.note_activity()
        self._render_welcome()
        self._render_wishlist_button()  # it follows the answer
        self._host.show_toast("consent_given" if granted else "consent_refused")

    def toggle_wishlist(self) -> None:
        """Add the product in view to the shopper's wishlist, or take it off."""
        if self._product is None:
            return
        wanted = self._product.sku not in self._controls.state.visit.wishlist
        if self._controls.set_wishlist(self._product.sku, wanted):
            self._host.show_toast("toast_wishlist_added" if wanted else "toast_wishlist_removed")
        self._render_wishlist_button()
        self._render_welcome()

    def forget(self) -> None:
        """Wipe everything of the last visit from the screens."""
        self._shopper, self._profile, self._consent_answer = "", None, None
        self._product, self._suggestions = None, ()
        self._host.sm.get_screen("product").show_empty()
        self._render_welcome()

    def take_profile(self, profile: ShopperProfile) -> None:
        """The signed-in shopper's profile arrived from HQ (or the cache)."""
        if profile.response.shopper == self._shopper:
            self._profile = profile
            self._render_welcome()
            self._render_wishlist_button()

    def take_catalog(self) -> None:
        """HQ's new catalog is in use: the attract screen features from it."""
        self._featured = featured_products(self._controls.catalog)
        self._render_featured()

    def render(self) -> None:
        """Every shopper screen again, in the window's language."""
        self._render_featured()
        self._render_product()
        self._render_welcome()

    def _render_featured(self) -> None:
        catalog_file, language = self._controls.catalog_file, self._host.language
        self._host.sm.get_screen("attract").show_featured(
            [(image_path(catalog_file, p.image), p.name.get(language)) for p in self._featured])

    def _render_product(self) -> None:
        if self._product is None:
            return
        catalog, catalog_file, language = self._controls.catalog, self._controls.catalog_file, self._host.language
        view = product_view(self._product, catalog, catalog_file, self._store, language)
        # HQ's link of this visit for the QR code once it has one; the product's address until then.
        link = self._controls.handoff_link(self._take_handoff_link)
        if link is not None:
            view = dataclasses.replace(view, web_address=self._in_language(link))
        cards = suggestion_views(self._suggestions, self._product.sku, catalog, catalog_file, self._store, language)
        self._host.sm.get_screen("product").show(view, cards)
        self._render_wishlist_button()

    def _take_handoff_link(self, link: str) -> None:
        if self._product is not None:
            self._host.sm.get_screen("product").web_address = self._in_language(link)

    def _in_language(self, link: str) -> str:
        """The link opens the phone's page in the kiosk's language."""
        return f"{link}?lang={self._host.language}"

    def _render_wishlist_button(self) -> None:
        visit, product = self._controls.state.visit, self._product
        self._host.sm.get_screen("product").wishlist_action = (
            "" if visit.identity is None or product is None else "remove" if product.sku in visit.wishlist else "add")

    def _render_welcome(self) -> None:
        screen, tx, language = self._host.sm.get_screen("welcome"), self._host.tx, self._host.language
        profile, visit = self._profile, self._controls.state.visit
        screen.title_text = greeting(profile.display_name if profile else None, language)
        screen.answered = self._consent_answer is not None
        screen.answer_text = tx["welcome_linked" if self._consent_answer else "welcome_not_linked"]
        # This visit's products join what they looked at once they agreed to link it, and
        # only then: after a no, the visit stays out of their profile and out of this list.
        recent = visit.viewed_skus if self._shopper and visit.identity is not None else ()
        wishlist: tuple[str, ...] = ()
        if profile is None:
            screen.profile_note = tx["welcome_loading"] if self._shopper else ""
        else:
            screen.profile_note = tx["welcome_from_cache"] if profile.from_cache else ""
            held = profile.response
            recent = recent_skus(recent, held.recent_skus)
            # The wishlist as it stands now: the profile's, with this visit's changes.
            wishlist = tuple(sku for sku in held.wishlist if sku in visit.wishlist) + tuple(
                sku for sku in visit.wishlist if sku not in held.wishlist)
        catalog, catalog_file = self._controls.catalog, self._controls.catalog_file
        screen.show_profile(
            profile_cards(recent, "reason_viewed_before", catalog, catalog_file, self._store, language),
            profile_cards(wishlist, "reason_in_wishlist", catalog, catalog_file, self._store, language))
