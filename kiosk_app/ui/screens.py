"""The kiosk's screens and the shell around them; their layouts are in ``assets/kv``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from kivy.properties import BooleanProperty, NumericProperty, OptionProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kiosk_app.ui.present import HealthRow, ProductView, SizeView, SuggestionView
from kiosk_app.ui.present_offers import OfferView
from kiosk_app.ui.present_reservations import OpenRequestRow
from kiosk_app.ui.widgets import (
    FeaturedCard,
    HealthLine,
    OfferCard,
    ProductCard,
    RequestLine,
    SizeChip,
    SuggestionCard,
)

# "Única" / "One size" is longer than "42" or "XL"; a smaller face keeps it in the chip.
_SIZE_FONT = 26
_LONG_SIZE_FONT = 19
# Long names step down to the smallest face still readable from a step away, so that
# they fit in two lines (the kv caps the name at two).
_NAME_FONT = 44
_LONG_NAME_FONT = 40
_LONG_NAME_CHARS = 28

W = TypeVar("W", bound=Widget)
# The widgets each row held, kept to fill again: made and dropped on every tap they were
# cyclic garbage, and the full collections that cleared it held a tap's frame 190-340 ms.
_kept: WeakKeyDictionary[Widget, list[Any]] = WeakKeyDictionary()


class KioskShell(FloatLayout):
    """Header, screen area, status line and the toast that floats over them."""


class AttractScreen(Screen):
    """Waiting for a tap: the invitation and a few featured products."""

    def show_featured(self, cards: list[tuple[str, str]]) -> None:
        """Show one card per (image file, caption)."""
        # The cards are filled again, not made anew: each catalog update dropped the last ones as
        # cyclic garbage, with their photos' textures, after the update's gc.freeze had kept them
        # out of every collection, so no collection ever freed them.
        for widget, (image, caption) in zip(_reuse(self.ids.featured, len(cards), FeaturedCard), cards,
                                            strict=True):
            widget.image_source, widget.caption = image, caption


class ProductScreen(Screen):
    """One product: picture, name, price, colour, description, stock per size, suggestions and a QR code."""

    sku = StringProperty("")
    brand_text = StringProperty("")
    name_text = StringProperty("")
    colour_text = StringProperty("")
    price_text = StringProperty("")
    usual_markup = StringProperty("")  # under an offer: the usual price, struck through
    offer_text = StringProperty("")  # under an offer: which one gives the price
    description_text = StringProperty("")
    image_source = StringProperty("")
    sizes_title = StringProperty("")
    name_font = NumericProperty(_NAME_FONT)
    web_address = StringProperty("")
    elsewhere_text = StringProperty("")
    has_suggestions = BooleanProperty(False)
    # "": nobody who agreed to it is signed in, so no button; else what the button does.
    wishlist_action = OptionProperty("", options=["", "add", "remove"])
    # Asking for a size (``ReservePanel``): the size chosen and its line, whether a hold to collect
    # is offered, where the visit's requests for this product stand; while any, no suggestions.
    has_free = BooleanProperty(False)
    chosen_size = StringProperty("")
    chosen_text = StringProperty("")
    can_collect = BooleanProperty(False)
    requests_text = StringProperty("")
    requests_markup = StringProperty("")  # the same lines, what went wrong in the warning colour
    reserve_open = BooleanProperty(False)

    def show(self, view: ProductView, suggestions: tuple[SuggestionView, ...] = ()) -> None:
        """Fill the screen from ``view`` and one card per suggestion."""
        self.sku = view.sku
        self.brand_text = view.brand.upper()
        self.name_text = view.name
        self.name_font = _NAME_FONT if len(view.name) <= _LONG_NAME_CHARS else _LONG_NAME_FONT
        self.colour_text = view.colour
        self.price_text = view.price
        self.usual_markup = f"[s]{escape_markup(view.usual_price)}[/s]" if view.usual_price else ""
        self.offer_text = view.offer
        self.description_text = view.description
        self.image_source = view.image
        self.sizes_title = view.sizes_title
        self.web_address = view.web_address
        self.elsewhere_text = view.elsewhere
        self.show_sizes(view.sizes)
        fill_cards(self.ids.suggestions, suggestions)
        self.has_suggestions = bool(suggestions)

    def show_sizes(self, sizes: tuple[SizeView, ...]) -> None:
        """The size chips alone (HQ's figures for the product changed), the chosen one outlined."""
        for chip, size in zip(_reuse(self.ids.sizes, len(sizes), SizeChip), sizes, strict=True):
            chip.size_font = _SIZE_FONT if len(size.size) <= 3 else _LONG_SIZE_FONT
            chip.size_text, chip.stock_text, chip.sold_out = size.size, size.stock, size.sold_out
            chip.size_key, chip.chosen = size.key, size.key == self.chosen_size and not size.sold_out
        self.has_free = any(not size.sold_out for size in sizes)

    def show_empty(self) -> None:
        """Nothing of the last product (or the last shopper's suggestions) stays behind."""
        for name in ("sku", "brand_text", "name_text", "colour_text", "price_text", "usual_markup", "offer_text",
                     "description_text",
                     "image_source", "sizes_title", "web_address", "elsewhere_text", "wishlist_action",
                     "chosen_size", "chosen_text", "requests_text", "requests_markup"):
            setattr(self, name, "")
        self.has_free = self.can_collect = self.reserve_open = False
        self.ids.sizes.clear_widgets()
        fill_cards(self.ids.suggestions, ())
        self.has_suggestions = False


class WelcomeScreen(Screen):
    """A signed-in shopper: greeting, the question whether to link this visit, and what they
    looked at in other channels and their wishlist once their profile arrives."""

    title_text = StringProperty("")  # the greeting: by the name the shopper gave, never by their id
    profile_note = StringProperty("")  # loading, or "offline: what we last knew"
    answered = BooleanProperty(False)
    answer_text = StringProperty("")
    has_recent = BooleanProperty(False)
    has_wishlist = BooleanProperty(False)
    coupons_text = StringProperty("")  # the titles of the offers they saved to their card, one a line
    reservations_text = StringProperty("")  # what they have asked for in this store, and where each stands
    orders_text = StringProperty("")  # their recent orders, one a line

    def show_profile(self, recent: tuple[SuggestionView, ...], wishlist: tuple[SuggestionView, ...]) -> None:
        """Cards for the shopper's recent views and their wishlist."""
        fill_cards(self.ids.recent, recent)
        self.has_recent = bool(recent)
        self.show_wishlist(wishlist)

    def show_wishlist(self, wishlist: tuple[SuggestionView, ...]) -> None:
        """Cards for the shopper's wishlist alone (a change to it leaves the rest of the screen as it is)."""
        fill_cards(self.ids.wishlist, wishlist)
        self.has_wishlist = bool(wishlist)


class OfferScreen(Screen):
    """A sign's offer: what it is, what it takes off, until when, its terms, the products it covers
    in stock here (touch one to see it), and for a members' offer the way to save it to a card."""

    offer_id = StringProperty("")
    title_text = StringProperty("")
    discount_text = StringProperty("")
    until_text = StringProperty("")
    terms_text = StringProperty("")
    members_text = StringProperty("")
    has_products = BooleanProperty(False)
    # "": no saving (an offer for everyone); else where a members' offer stands with this shopper.
    save_state = OptionProperty("", options=["", "card", "consent", "save", "saved"])

    def show(self, view: OfferView) -> None:
        """Fill the screen from ``view``, one card per product."""
        self.offer_id = view.id
        self.title_text, self.discount_text, self.until_text = view.title, view.discount, view.until
        self.terms_text, self.members_text = view.terms, view.members_note
        fill_cards(self.ids.offer_products, view.products, OfferCard)
        self.has_products = bool(view.products)

    def show_empty(self) -> None:
        """Nothing of the last offer stays behind."""
        for name in ("offer_id", "title_text", "discount_text", "until_text", "terms_text", "members_text",
                     "save_state"):
            setattr(self, name, "")
        fill_cards(self.ids.offer_products, (), OfferCard)
        self.has_products = False


class OfferUnavailableScreen(Screen):
    """A sign of an offer not on here now: why (ended, not started, unknown here), and the way back."""

    message = StringProperty("")
    title_text = StringProperty("")  # the offer's title, when the kiosk knows it


class LockedScreen(Screen):
    """Out of service: shoppers are told so calmly; staff get in with a badge or the PIN."""


class PinScreen(Screen):
    """The staff PIN pad; the digits show as dots."""

    entered = StringProperty("")
    message = StringProperty("")


class StaffScreen(Screen):
    """Staff mode: the health of every part, write and check tags, sync, lock."""

    member_text = StringProperty("")
    checked_text = StringProperty("")
    write_text = StringProperty("")
    writing = BooleanProperty(False)
    locked = BooleanProperty(False)
    has_requests = BooleanProperty(False)
    requests_more = StringProperty("")  # "and 3 more" past what the screen lists

    def show_health(self, rows: tuple[HealthRow, ...]) -> None:
        """Refresh the health table in place (it is redrawn every second)."""
        table = self.ids.health
        if len(table.children) != len(rows):
            table.clear_widgets()
            for _ in rows:
                table.add_widget(HealthLine())
        for line, row in zip(reversed(table.children), rows, strict=True):
            line.label_text, line.value_text, line.ok, line.verdict_text = row.label, row.value, row.ok, row.verdict

    def show_requests(self, rows: tuple[OpenRequestRow, ...], more: str) -> None:
        """The store's open requests, oldest first (refreshed every second: the waits grow)."""
        for line, row in zip(_reuse(self.ids.requests, len(rows), RequestLine), rows, strict=True):
            line.where_text, line.waiting_text, line.state_text, line.ready = (row.where, row.waiting, row.state,
                                                                               row.ready)
            line.product_text = f"{row.product} · {row.size} · {row.kind}"
        self.has_requests = bool(rows)
        self.requests_more = more


def fill_cards(row: Widget, cards: tuple[SuggestionView, ...], kind: type[ProductCard] = SuggestionCard) -> None:
    """Replace the cards in ``row`` (cards of ``kind``: what pressing one does is its kind's)."""
    for widget, card in zip(_reuse(row, len(cards), kind), cards, strict=True):
        widget.sku, widget.image_source, widget.name_text = card.sku, card.image, card.name
        widget.price_text, widget.reason_text = card.price, card.reason
        widget.badge_text, widget.usual_text = card.on_offer, card.usual_price


def _reuse(row: Widget, count: int, make: Callable[[], W]) -> list[W]:
    """``count`` widgets in ``row``, those it held before first; makes only the ones it lacks."""
    kept = _kept.setdefault(row.__self__, [])  # ids hold proxies, which cannot be weakly referenced
    while len(kept) < count:
        kept.append(make())
    row.clear_widgets()
    for widget in kept[:count]:
        row.add_widget(widget)
    return kept[:count]
