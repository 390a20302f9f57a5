"""The shopper's screens: the attract loop's featured products, the product in view with
its suggestions and wishlist button (at its price after an offer), a sign's offer with its
products and the way to save it to a card, and the welcome with the consent question and
the profile HQ sent, kept current in place as HQ pushes changes made in other channels."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from kiosk_app._reservation_desk import StoreNews, StoreNewsKind
from kiosk_app._reservations import held_for_shopper
from kiosk_app.controls import KioskControls
from kiosk_app.runtime import ShopperProfile
from kiosk_app.ui.host import Host
from kiosk_app.ui.present import (
    SuggestionView,
    featured_products,
    greeting,
    image_path,
    product_view,
    profile_cards,
    recent_skus,
    suggestion_views,
)
from kiosk_app.ui.present_offers import coupon_lines, offer_view, unavailable_text
from kiosk_app.ui.present_reservations import order_lines, reservation_lines
from kiosk_app.ui.reserve_panel import ReservePanel
from kiosk_protocol import ChangeKind, Offer, Product, ProfileChange
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
        self._offer: Offer | None = None  # the sign's offer in view, and the products it covers here
        self._offer_products: tuple[Product, ...] = ()
        self._unavailable: tuple[str, Offer | None] | None = None  # a sign's offer id not on here, and the offer
        self._featured = featured_products(controls.catalog)
        self.reserve = ReservePanel(controls, host, store)  # the product screen's requests (kv: app.shopper.reserve)

    def show_product(self, product: Product, suggestions: tuple[Suggestion, ...]) -> None:
        """Fill the product screen with ``product`` and its suggestions; the kiosk hears which it put on screen
        (none while the visit's requests for the product fill their place)."""
        self._product, self._suggestions = product, suggestions
        cards = self._render_product()
        self.reserve.show(product)
        if cards and not self._host.sm.get_screen("product").reserve_open:
            self._controls.suggestions_shown(product.sku, [card.sku for card in cards])

    def show_offer(self, offer: Offer, products: tuple[Product, ...]) -> None:
        """Fill the offer screen with a sign's ``offer`` and the ``products`` it covers in stock here."""
        self._offer, self._offer_products = offer, products
        self._render_offer()

    def show_offer_unavailable(self, offer_id: str, offer: Offer | None) -> None:
        """Say why a sign's offer is not on here now (``offer`` None: the kiosk does not know it)."""
        self._unavailable = (offer_id, offer)
        self._render_unavailable()

    def open_offer_product(self, sku: str) -> None:
        """The shopper touched one of the offer's products: the kiosk shows it (no tag tap counted)."""
        self._controls.open_product(sku)

    def save_coupon(self) -> None:
        """Save the members' offer in view to the signed-in shopper's card; the button then says so."""
        if self._offer is not None and self._controls.save_coupon(self._offer.id):
            self._host.note_activity()
        self._render_save()
        self._render_coupons()

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
        self._render_save()
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
        self._offer, self._offer_products, self._unavailable = None, (), None
        self._host.sm.get_screen("product").show_empty()
        self.reserve.show(None)
        self._host.sm.get_screen("offer").show_empty()
        self._render_welcome()

    def take_profile(self, profile: ShopperProfile) -> None:
        """The signed-in shopper's profile arrived from HQ (or the cache)."""
        if profile.response.shopper == self._shopper:
            self._profile = profile
            self._render_welcome()
            self._render_wishlist_button()
            self._render_save()

    def take_change(self, change: ProfileChange) -> None:
        """A change made in another channel is in the visit now: only the widgets it touches follow, in place."""
        if not self._shopper:
            return
        if change.kind in (ChangeKind.WISHLIST_ADD, ChangeKind.WISHLIST_REMOVE):
            self._render_wishlist_row()
            self._render_wishlist_button()
        elif change.kind is ChangeKind.DISPLAY_NAME:
            self._render_title()
        elif change.kind is ChangeKind.CONSENT and not self._controls.state.visit.consented:
            if self._consent_answer:  # linking this visit ended elsewhere: the welcome says so
                self._consent_answer = False
                self._render_answer()
            self._render_wishlist_button()
            self._render_save()
        elif change.kind in (ChangeKind.ORDER_PLACED, ChangeKind.RESERVATION):
            self._render_reservations()
        else:  # a coupon saved or redeemed in another channel, and any later kind: the coupons follow
            self._render_coupons()
            self._render_save()

    def take_store_news(self, news: StoreNews) -> None:
        """HQ's word on the visit's requests or a product's free units: the screens that show them follow."""
        self.reserve.take_news(news)
        if news.kind is StoreNewsKind.VISIT_REQUESTS:
            self._render_reservations()

    def take_catalog(self) -> None:
        """HQ's new catalog is in use: the attract screen features from it."""
        self._featured = featured_products(self._controls.catalog)
        self._render_featured()

    def render(self) -> None:
        """Every shopper screen again, in the window's language."""
        self._render_featured()
        self._render_product()
        self._render_offer()
        self._render_unavailable()
        self._render_welcome()

    def _render_featured(self) -> None:
        catalog_file, language = self._controls.catalog_file, self._host.language
        self._host.sm.get_screen("attract").show_featured(
            [(image_path(catalog_file, p.image), p.name.get(language)) for p in self._featured])

    def _render_product(self) -> tuple[SuggestionView, ...]:
        """The product screen again; returns the suggestion cards it shows."""
        if self._product is None:
            return ()
        catalog, catalog_file, language = self._controls.catalog, self._controls.catalog_file, self._host.language
        view = product_view(self._product, catalog, catalog_file, self._store, language,
                            self._controls.offer_price(self._product), self._controls.free_units(self._product.sku))
        # HQ's link of this visit for the QR code once it has one; the product's address until then.
        link = self._controls.handoff_link(self._take_handoff_link)
        if link is not None:
            view = dataclasses.replace(view, web_address=self._in_language(link))
        cards = suggestion_views(self._suggestions, self._product.sku, catalog, catalog_file, self._store, language,
                                 self._controls.offer_price)
        self._host.sm.get_screen("product").show(view, cards)
        self._render_wishlist_button()
        self.reserve.render()
        return cards

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

    def _render_offer(self) -> None:
        if self._offer is None:
            return
        controls = self._controls
        view = offer_view(self._offer, self._offer_products, controls.catalog, controls.catalog_file, self._store,
                          self._host.language, datetime.now(UTC))
        self._host.sm.get_screen("offer").show(view)
        self._render_save()

    def _render_save(self) -> None:
        """A members' offer: saved, ready to save, or what the shopper must do first (tap a card, agree)."""
        offer, visit = self._offer, self._controls.state.visit
        state = ""
        if offer is not None and offer.for_members():
            state = ("card" if visit.shopper is None else "consent" if visit.identity is None
                     else "saved" if offer.id in visit.coupons else "save")
        self._host.sm.get_screen("offer").save_state = state

    def _render_unavailable(self) -> None:
        if self._unavailable is None:
            return
        _offer_id, offer = self._unavailable
        screen, language = self._host.sm.get_screen("offer_unavailable"), self._host.language
        screen.title_text = offer.title.get(language) if offer is not None else ""
        screen.message = unavailable_text(offer, self._store, language, datetime.now(UTC))

    def _render_coupons(self) -> None:
        controls = self._controls
        coupons = controls.state.visit.coupons if self._shopper else set()
        lines = coupon_lines(coupons, controls.offers, controls.catalog, self._host.language)
        self._host.sm.get_screen("welcome").coupons_text = "\n".join(lines)

    def _render_reservations(self) -> None:
        """The shopper's reservations in this store (their profile's and this visit's) and recent orders."""
        visit, catalog, language = self._controls.state.visit, self._controls.catalog, self._host.language
        screen = self._host.sm.get_screen("welcome")
        signed_in = bool(self._shopper)
        screen.reservations_text = reservation_lines(held_for_shopper(visit), catalog, language) if signed_in else ""
        screen.orders_text = order_lines(visit.orders, catalog, language) if signed_in else ""

    def _render_welcome(self) -> None:
        screen, tx = self._host.sm.get_screen("welcome"), self._host.tx
        screen.shopper = self._shopper
        self._render_title()
        self._render_answer()
        self._render_coupons()
        self._render_reservations()
        profile, visit = self._profile, self._controls.state.visit
        # This visit's products join what they looked at once they agreed to link it, and
        # only then: after a no, the visit stays out of their profile and out of this list.
        recent = visit.viewed_skus if self._shopper and visit.identity is not None else ()
        if profile is None:
            screen.profile_note = tx["welcome_loading"] if self._shopper else ""
        else:
            screen.profile_note = tx["welcome_from_cache"] if profile.from_cache else ""
            recent = recent_skus(recent, profile.response.recent_skus)
        catalog, catalog_file, language = self._controls.catalog, self._controls.catalog_file, self._host.language
        screen.show_profile(profile_cards(recent, "reason_viewed_before", catalog, catalog_file, self._store, language,
                                          pricing=self._controls.offer_price),
                            self._wishlist_cards() if profile is not None else ())

    def _render_title(self) -> None:
        """Hello by the name they gave (the newest: pushed in this visit, or the profile's), never by their id."""
        name = None
        if self._shopper:
            name = self._controls.state.visit.display_name or (self._profile.display_name if self._profile else None)
        self._host.sm.get_screen("welcome").title_text = greeting(name, self._host.language)

    def _render_answer(self) -> None:
        screen = self._host.sm.get_screen("welcome")
        screen.answered = self._consent_answer is not None
        screen.answer_text = self._host.tx["welcome_linked" if self._consent_answer else "welcome_not_linked"]

    def _render_wishlist_row(self) -> None:
        if self._profile is not None:
            self._host.sm.get_screen("welcome").show_wishlist(self._wishlist_cards())

    def _wishlist_cards(self) -> tuple[SuggestionView, ...]:
        """The wishlist as it stands now, its newest last: the profile's (oldest first), then what joined it in this
        visit, here or in another channel. The newest few are shown."""
        visit, profile = self._controls.state.visit, self._profile
        pulled = profile.response.wishlist if profile is not None else ()
        joined = (*(sku for sku in pulled if sku not in visit.added), *visit.added)  # a re-added one is new again
        ordered = tuple(sku for sku in joined if sku in visit.wishlist)
        catalog, catalog_file, language = self._controls.catalog, self._controls.catalog_file, self._host.language
        newest = profile_cards(tuple(reversed(ordered)), "reason_in_wishlist", catalog, catalog_file, self._store,
                               language, pricing=self._controls.offer_price)
        return tuple(reversed(newest))
