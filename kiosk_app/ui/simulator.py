"""The demo's tag simulator: a small window with one button per product tag, one
loyalty card and the sign of the demo offer, each pressed button held to the kiosk's
reader by a TagEmulator.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.factory import Factory
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kiosk_app.ui import theme
from kiosk_app.ui.app import run_until_stopped
from kiosk_app.ui.host import on_main_thread
from kiosk_app.ui.kv import load_kv
from kiosk_protocol import load_catalog
from nfc_reader import TagEmulator, encode_badge, encode_card, encode_offer, encode_product

log = logging.getLogger(__name__)

SIMULATOR_KV = ("widgets.kv", "simulator.kv")
DEMO_OFFER = "WINTER-BOOTS"  # the demo's offer (its offers.json beside the demo catalog)


def parse_udp_device(device: str) -> tuple[str, int]:
    """The host and port of an nfcpy ``udp:HOST:PORT`` device path.

    Raises:
        ValueError: not a ``udp:HOST:PORT`` path.
    """
    kind, _, rest = device.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "udp" or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"the tag simulator needs a udp:HOST:PORT device, not {device!r}")
    return host, int(port)


class SimulatorPanel(BoxLayout):
    """The simulator window's content; its layout is in ``assets/kv/simulator.kv``."""


class SimulatorApp(App):
    """A small window that taps simulated product tags and a loyalty card on the reader."""

    device = StringProperty("")
    status_text = StringProperty("Ready")
    busy = BooleanProperty(False)
    # The shared widgets read the palette and text size from the app.
    pal = DictProperty(theme.STANDARD)
    text_scale = NumericProperty(1.0)

    def __init__(self, device: str, catalog_path: Path, card_token: str, badge_token: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        host, port = parse_udp_device(device)
        self.device = device
        self.title = "Tag simulator"
        self.catalog = load_catalog(catalog_path)
        self.card_token = card_token
        self.badge_token = badge_token
        self.emulator = TagEmulator(port, host)

    def build(self) -> Widget:
        """The loyalty card on top, then one button per product with its English name and SKU."""
        from kivy.core.window import Window  # importing it opens the window

        Window.size = theme.SIMULATOR_WINDOW
        Window.left, Window.top = theme.SIMULATOR_POSITION  # beside the kiosk window, not over it
        Window.clearcolor = theme.BACKGROUND
        load_kv(SIMULATOR_KV)
        panel = SimulatorPanel()
        # The cards are pinned above the scrolling product list: the demo needs it often.
        panel.ids.card_slot.add_widget(self._tag_button(
            "Loyalty card", "signs a shopper in, or out when tapped again", encode_card(self.card_token),
            primary=True))
        if self.badge_token:
            panel.ids.card_slot.add_widget(self._tag_button(
                "Staff badge", "opens staff mode, or closes it when tapped again", encode_badge(self.badge_token)))
        for product in self.catalog.products:
            message = encode_product(self.catalog.shop_url, product.sku)
            panel.ids.buttons.add_widget(self._tag_button(product.name.get("en"), product.sku, message))
        # After the products, so the list still starts with them; a sign of the demo shop's own address.
        panel.ids.buttons.add_widget(self._tag_button(
            "Offer sign", f"the sign of the offer {DEMO_OFFER}", encode_offer(self.catalog.shop_url, DEMO_OFFER)))
        return panel

    def on_stop(self) -> None:
        """Release the udp port."""
        self.emulator.close()

    def tap(self, label: str, message: bytes) -> None:
        """Hold a tag carrying ``message`` to the reader on a worker thread, never the UI thread."""
        self.busy = True
        self.status_text = f"tapping {label}…"
        threading.Thread(target=self._tap_and_report, args=(label, message), name="tag-simulator",
                         daemon=True).start()

    def _tap_and_report(self, label: str, message: bytes) -> None:
        try:
            read = self.emulator.tap(message)
        except Exception:  # a broken emulator must not take the panel down with it
            log.exception("tapping %s failed", label)
            read = False
        on_main_thread(lambda: self._report(label, read))

    def _report(self, label: str, read: bool) -> None:
        self.busy = False
        self.status_text = f"tapped {label}" if read else "no reader answered"
        log.info("simulated tap of %s: %s", label, self.status_text)

    def _tag_button(self, title: str, detail: str, message: bytes, primary: bool = False) -> Widget:
        text = f"[b]{escape_markup(title)}[/b]\n[size=14sp]{escape_markup(detail)}[/size]"
        button = Factory.TagButton(text=text)
        if primary:
            button.bg_color = theme.ACCENT
            button.down_color = theme.ACCENT_DOWN
            button.border_color = theme.ACCENT
            button.color = theme.ON_ACCENT
        button.bind(on_release=lambda _button: self.tap(title, message))
        self.bind(busy=button.setter("disabled"))
        return button


def run_simulator_window(device: str, catalog_path: Path, card_token: str, badge_token: str | None = None) -> None:
    """Run the tag simulator window until it is closed, or stopped by SIGINT or SIGTERM."""
    run_until_stopped(SimulatorApp(device, catalog_path, card_token, badge_token))
