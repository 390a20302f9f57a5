"""The kiosk's screens and the shell around them; their layouts are in ``assets/kv``."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import Screen

from kiosk_app.ui.present import ProductView, SuggestionView
from kiosk_app.ui.widgets import FeaturedCard, SizeChip, SuggestionCard

# "Única" / "One size" is longer than "42" or "XL"; a smaller face keeps it in the chip.
_SIZE_FONT = 26
_LONG_SIZE_FONT = 19
# Long names step down to the smallest face still readable from a step away, so that
# they fit in two lines (the kv caps the name at two).
_NAME_FONT = 44
_LONG_NAME_FONT = 40
_LONG_NAME_CHARS = 28


class KioskShell(FloatLayout):
    """Header, screen area, status line and the toast that floats over them."""


class AttractScreen(Screen):
    """Waiting for a tap: the invitation and a few featured products."""

    def show_featured(self, cards: list[tuple[str, str]]) -> None:
        """Show one card per (image file, caption)."""
        row = self.ids.featured
        row.clear_widgets()
        for image, caption in cards:
            row.add_widget(FeaturedCard(image_source=image, caption=caption))


class ProductScreen(Screen):
    """One product: picture, name, price, colour, description, stock per size, suggestions and a QR code."""

    sku = StringProperty("")
    brand_text = StringProperty("")
    name_text = StringProperty("")
    colour_text = StringProperty("")
    price_text = StringProperty("")
    description_text = StringProperty("")
    image_source = StringProperty("")
    sizes_title = StringProperty("")
    name_font = NumericProperty(_NAME_FONT)
    web_address = StringProperty("")
    has_suggestions = BooleanProperty(False)

    def show(self, view: ProductView, suggestions: tuple[SuggestionView, ...] = ()) -> None:
        """Fill the screen from ``view`` and one card per suggestion."""
        self.sku = view.sku
        self.brand_text = view.brand.upper()
        self.name_text = view.name
        self.name_font = _NAME_FONT if len(view.name) <= _LONG_NAME_CHARS else _LONG_NAME_FONT
        self.colour_text = view.colour
        self.price_text = view.price
        self.description_text = view.description
        self.image_source = view.image
        self.sizes_title = view.sizes_title
        self.web_address = view.web_address
        grid = self.ids.sizes
        grid.clear_widgets()
        for size in view.sizes:
            font = _SIZE_FONT if len(size.size) <= 3 else _LONG_SIZE_FONT
            grid.add_widget(SizeChip(size_text=size.size, stock_text=size.stock, sold_out=size.sold_out,
                                     size_font=font))
        strip = self.ids.suggestions
        strip.clear_widgets()
        for card in suggestions:
            strip.add_widget(SuggestionCard(sku=card.sku, image_source=card.image, name_text=card.name,
                                            price_text=card.price, reason_text=card.reason))
        self.has_suggestions = bool(suggestions)


class WelcomeScreen(Screen):
    """A signed-in shopper is greeted and asked whether to link this visit."""

    shopper = StringProperty("")
    title_text = StringProperty("")
