"""Small reusable widgets; their looks are in ``assets/kv/widgets.kv``."""

from __future__ import annotations

from typing import Any

from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kiosk_app.ui import theme


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


class StatusDot(Widget):
    """A small round state light next to a status word."""

    dot_color = ColorProperty(theme.OFF)
