"""Small reusable widgets; their looks are in ``assets/kv/widgets.kv``."""

from __future__ import annotations

from typing import Any

from kivy.graphics.texture import Texture
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kiosk_app.ui import theme
from kiosk_app.ui.present import qr_modules

_DARK_MODULE = b"\x00\x00\x00\xff"
_LIGHT_MODULE = b"\xff\xff\xff\xff"


class FlatButton(ButtonBehavior, Label):
    """A flat, rounded button whose fill darkens while pressed."""

    bg_color = ColorProperty(theme.SURFACE)
    down_color = ColorProperty(theme.PRESSED)
    border_color = ColorProperty(theme.LINE)
    fill = ColorProperty(theme.SURFACE)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fill = self.bg_color

    def on_bg_color(self, _widget: Widget, _value: Any) -> None:
        """Keep the fill in step when a kv rule sets the colour after construction."""
        self._refresh_fill()

    def on_state(self, _widget: Widget, _value: str) -> None:
        """Show the press."""
        self._refresh_fill()

    def _refresh_fill(self) -> None:
        self.fill = self.down_color if self.state == "down" else self.bg_color


class SizeChip(BoxLayout):
    """One size and its units in this store; a sold-out size says so in words."""

    size_text = StringProperty("")
    stock_text = StringProperty("")
    sold_out = BooleanProperty(False)
    size_font = NumericProperty(26)
    bg_color = ColorProperty(theme.SURFACE)
    ink_color = ColorProperty(theme.INK)
    border_color = ColorProperty(theme.LINE)
    # Markup for the size: sold-out sizes are struck through as well as greyed.
    size_markup = StringProperty("")

    def on_kv_post(self, _base_widget: Widget) -> None:
        """Paint the initial state."""
        self._restyle()

    def on_sold_out(self, _widget: Widget, _value: bool) -> None:
        """Restyle when the stock changes."""
        self._restyle()

    def on_size_text(self, _widget: Widget, _value: str) -> None:
        """Rebuild the markup for a new size."""
        self._restyle()

    def _restyle(self) -> None:
        escaped = escape_markup(self.size_text)
        self.size_markup = f"[s]{escaped}[/s]" if self.sold_out else escaped
        self.bg_color = theme.MUTED_SURFACE if self.sold_out else theme.SURFACE
        self.ink_color = theme.MUTED_INK if self.sold_out else theme.INK
        self.border_color = theme.MUTED_SURFACE if self.sold_out else theme.LINE


class FeaturedCard(BoxLayout):
    """A product picture and name on the attract screen."""

    image_source = StringProperty("")
    caption = StringProperty("")


class SuggestionCard(ButtonBehavior, BoxLayout):
    """A suggested product: picture, name, price and the reason in words; pressing it shows the product."""

    sku = StringProperty("")
    image_source = StringProperty("")
    name_text = StringProperty("")
    price_text = StringProperty("")
    reason_text = StringProperty("")
    fill = ColorProperty(theme.SURFACE)

    def on_state(self, _widget: Widget, value: str) -> None:
        """Show the press."""
        self.fill = theme.PRESSED if value == "down" else theme.SURFACE


class QrCode(Image):
    """A QR code for ``data``, drawn module for module so it stays sharp at any size."""

    data = StringProperty("")

    def on_data(self, _widget: Widget, value: str) -> None:
        """Redraw the code for the new data; no data, no code."""
        if not value:
            self.texture = None
            return
        rows = qr_modules(value)
        side = len(rows)
        # Kivy textures start at the bottom row.
        pixels = b"".join(_DARK_MODULE if dark else _LIGHT_MODULE for row in reversed(rows) for dark in row)
        texture = Texture.create(size=(side, side), colorfmt="rgba")
        texture.blit_buffer(pixels, colorfmt="rgba", bufferfmt="ubyte")
        # One texel per module: scaling must not blur the edges a phone camera looks for.
        texture.mag_filter = "nearest"
        texture.min_filter = "nearest"
        self.texture = texture


class StatusDot(Widget):
    """A small round state light next to a status word."""

    dot_color = ColorProperty(theme.OFF)
