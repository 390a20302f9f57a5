"""Small reusable widgets; their looks are in ``assets/kv/widgets.kv``."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
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

_STANDARD = theme.STANDARD
_DARK_MODULE = b"\x00\x00\x00\xff"
_LIGHT_MODULE = b"\xff\xff\xff\xff"


class FlatButton(ButtonBehavior, Label):
    """A flat, rounded button whose fill darkens while pressed."""

    bg_color = ColorProperty(_STANDARD["SURFACE"])
    down_color = ColorProperty(_STANDARD["PRESSED"])
    border_color = ColorProperty(_STANDARD["LINE"])
    fill = ColorProperty(_STANDARD["SURFACE"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fill = self.bg_color

    def on_down_color(self, _widget: Widget, _value: Any) -> None:
        """Keep the fill in step when a kv rule sets the colour after construction."""
        self._refresh_fill()

    def on_bg_color(self, _widget: Widget, _value: Any) -> None:
        """Keep the fill in step when a kv rule sets the colour after construction."""
        self._refresh_fill()

    def on_state(self, _widget: Widget, _value: str) -> None:
        """Show the press."""
        self._refresh_fill()

    def _refresh_fill(self) -> None:
        self.fill = self.down_color if self.state == "down" else self.bg_color


class SizeChip(ButtonBehavior, BoxLayout):
    """One size and its units in this store; a sold-out size says so in words and is struck
    through, not only greyed (colour alone must not carry it). Touching a size with units free
    chooses it, for a fitting room or to collect; a chosen one is outlined."""

    size_key = StringProperty("")  # the size as the catalog names it
    chosen = BooleanProperty(False)
    size_text = StringProperty("")
    stock_text = StringProperty("")
    sold_out = BooleanProperty(False)
    size_font = NumericProperty(26)
    size_markup = StringProperty("")
    bg_color = ColorProperty(_STANDARD["SURFACE"])
    ink_color = ColorProperty(_STANDARD["INK"])
    border_color = ColorProperty(_STANDARD["LINE"])

    def on_kv_post(self, _base_widget: Widget) -> None:
        """Build the initial markup."""
        self._remark()

    def on_sold_out(self, _widget: Widget, _value: bool) -> None:
        """Strike the size through when it sells out."""
        self._remark()

    def on_size_text(self, _widget: Widget, _value: str) -> None:
        """Rebuild the markup for a new size."""
        self._remark()

    def _remark(self) -> None:
        escaped = escape_markup(self.size_text)
        self.size_markup = f"[s]{escaped}[/s]" if self.sold_out else escaped


class FeaturedCard(BoxLayout):
    """A product picture and name on the attract screen."""

    image_source = StringProperty("")
    caption = StringProperty("")


class ProductCard(ButtonBehavior, BoxLayout):
    """A product on a card: picture, name, price (under an offer, the usual one struck through or
    "on offer" beside it) and a line in words; what pressing it does is its kind's."""

    sku = StringProperty("")
    image_source = StringProperty("")
    name_text = StringProperty("")
    price_text = StringProperty("")
    reason_text = StringProperty("")
    badge_text = StringProperty("")
    usual_text = StringProperty("")
    usual_markup = StringProperty("")

    def on_usual_text(self, _widget: Widget, value: str) -> None:
        """The usual price is struck through: the markup is built here, escaped, never from kv."""
        self.usual_markup = f"[s]{escape_markup(value)}[/s]" if value else ""


class SuggestionCard(ProductCard):
    """A suggested product and why, in words; pressing it shows the product, recorded beside the one in view."""


class OfferCard(ProductCard):
    """A product an offer covers, at its price after the offer; pressing it shows the product."""


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


class HealthLine(BoxLayout):
    """One row of the staff screen's health table."""

    label_text = StringProperty("")
    value_text = StringProperty("")
    verdict_text = StringProperty("")
    ok = BooleanProperty(True)


class RequestLine(BoxLayout):
    """One row of the store's open requests in staff mode: where, what, and how long it has waited."""

    where_text = StringProperty("")
    product_text = StringProperty("")
    state_text = StringProperty("")
    waiting_text = StringProperty("")
    ready = BooleanProperty(False)


class HoldButton(ButtonBehavior, Label):
    """A quiet label that acts only when held (staff's way to the PIN pad, out of shoppers' way)."""

    hold_s = NumericProperty(2.0)

    __events__ = ("on_hold",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hold_event: Any = None

    def on_press(self) -> None:
        """Start counting the hold."""
        self._hold_event = Clock.schedule_once(lambda _dt: self.dispatch("on_hold"), self.hold_s)

    def on_release(self) -> None:
        """Let go too early: nothing happens."""
        if self._hold_event is not None:
            self._hold_event.cancel()

    def on_hold(self) -> None:
        """Held long enough."""


class StatusDot(Widget):
    """A small round state light next to a status word."""

    dot_color = ColorProperty(_STANDARD["OFF"])
