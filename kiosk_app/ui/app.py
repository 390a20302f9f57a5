"""The shopper-facing kiosk window: attract, product and welcome screens over a KioskRuntime."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock, ClockEvent
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    DictProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.screenmanager import FadeTransition, ScreenManager
from kivy.uix.widget import Widget

from backend_sync import Product
from kiosk_app.kiosk import OutcomeKind, TapOutcome
from kiosk_app.runtime import KioskConfig, KioskRuntime
from kiosk_app.ui import theme
from kiosk_app.ui.kv import load_kv
from kiosk_app.ui.present import featured_products, image_path, product_view, store_name, suggestion_views
from kiosk_app.ui.screens import AttractScreen, KioskShell, ProductScreen, WelcomeScreen
from kiosk_app.ui.texts import LANGUAGES, other_language, texts_for
from nfc_reader import ReaderState, ReaderStatus, TagKind, TagRead
from recommender import Suggestion

log = logging.getLogger(__name__)

KIOSK_KV = ("widgets.kv", "attract.kv", "product.kv", "welcome.kv", "shell.kv")
TOAST_S = 3.0
BROKER_POLL_S = 1.0
_ESCAPE = 27
_TOAST_KEYS = {
    OutcomeKind.SIGNED_OUT: "toast_signed_out",
    OutcomeKind.UNKNOWN_PRODUCT: "toast_unknown_product",
    OutcomeKind.UNREADABLE: "toast_unreadable",
    OutcomeKind.CARD_REJECTED: "toast_card_rejected",
    OutcomeKind.NOT_HANDLED: "toast_not_handled",
}


def on_main_thread(work: Callable[[], None]) -> None:
    """Run ``work`` on Kivy's main thread at the next frame; safe to call from any thread."""
    Clock.schedule_once(lambda _dt: work())


def _window() -> Any:
    # Importing kivy.core.window opens the window, so it happens only when an app builds.
    from kivy.core.window import Window

    return Window


class KioskApp(App):
    """The kiosk window: shows each tap's outcome and asks signed-in shoppers for consent."""

    language = OptionProperty("es", options=list(LANGUAGES))
    tx = DictProperty(texts_for("es"))
    store_title = StringProperty("")
    kiosk_label = StringProperty("")
    lang_toggle_text = StringProperty("")
    broker_online = BooleanProperty(False)
    reader_online = BooleanProperty(False)
    broker_status_text = StringProperty("")
    reader_status_text = StringProperty("")
    broker_dot_color = ColorProperty(theme.OFF)
    reader_dot_color = ColorProperty(theme.OFF)
    toast_key = StringProperty("")
    toast_text = StringProperty("")
    toast_subtext = StringProperty("")

    sm: ScreenManager

    def __init__(self, config: KioskConfig, fullscreen: bool = False, language: str = "es", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # App.config is Kivy's own settings file, hence a different name.
        self.kiosk_config = config
        self.fullscreen = fullscreen
        self.default_language = language
        self.idle_timeout_s: float = 60.0
        self.title = "Kiosk"
        self._runtime: KioskRuntime | None = None
        self._built = False
        self._product: Product | None = None
        self._suggestions: tuple[Suggestion, ...] = ()
        self._shopper = ""
        self._featured: list[Product] = []
        self._idle_event: ClockEvent | None = None
        self._toast_event: ClockEvent | None = None
        self._poll_event: ClockEvent | None = None
        self._toast_widget: Any = None
        self.language = language
        self._render()

    @property
    def runtime(self) -> KioskRuntime:
        """The kiosk's reader, outbox and link; exists once the window is built."""
        if self._runtime is None:
            raise RuntimeError("the kiosk window has not been built yet")
        return self._runtime

    def build(self) -> Widget:
        """Load the kv files, build the screens and start the runtime."""
        window = _window()
        if self.fullscreen:
            window.fullscreen = "auto"
        else:
            window.size = theme.KIOSK_WINDOW
            window.left, window.top = 0, 0
        window.clearcolor = theme.BACKGROUND
        load_kv(KIOSK_KV)

        config = self.kiosk_config
        self._runtime = KioskRuntime(
            config,
            on_outcome=self.show_outcome,
            dispatch=on_main_thread,
            on_reader_status=lambda status: on_main_thread(lambda: self._on_reader_status(status)),
        )
        catalog = self._runtime.kiosk.catalog
        self.store_title = store_name(catalog, config.store)
        self.kiosk_label = f"{config.store} · {config.kiosk}"
        self._featured = featured_products(catalog)

        shell = KioskShell()
        self.sm = ScreenManager(transition=FadeTransition(duration=0.15))
        self.sm.add_widget(AttractScreen(name="attract"))
        self.sm.add_widget(ProductScreen(name="product"))
        self.sm.add_widget(WelcomeScreen(name="welcome"))
        shell.ids.screen_area.add_widget(self.sm)
        self._built = True
        self._toast_widget = shell.ids.toast
        self._render()

        window.bind(on_touch_down=self._on_touch_down, on_keyboard=self._on_keyboard)
        self._poll_event = Clock.schedule_interval(self._poll_broker, BROKER_POLL_S)
        self._runtime.start()
        return shell

    def on_stop(self) -> None:
        """Stop the runtime; unsent events stay in the outbox for next time."""
        for event in (self._idle_event, self._toast_event, self._poll_event):
            if event is not None:
                event.cancel()
        _window().unbind(on_touch_down=self._on_touch_down, on_keyboard=self._on_keyboard)
        if self._runtime is not None:
            self._runtime.stop()

    def open_settings(self, *_args: Any) -> bool:
        """Never: shoppers must not reach Kivy's settings panel (F1)."""
        return False

    def show_outcome(self, outcome: TapOutcome) -> None:
        """Show what a tap did: a product, a welcome, or a short message on the current screen."""
        log.info("tap outcome %s %s", outcome.kind.value, outcome.reason)
        self.note_activity()
        if outcome.kind is OutcomeKind.PRODUCT and outcome.product is not None:
            self._product = outcome.product
            self._suggestions = outcome.suggestions
            self.hide_toast()
            self._render_product()
            self.sm.current = "product"
        elif outcome.kind is OutcomeKind.SIGNED_IN and outcome.shopper is not None:
            self._shopper = outcome.shopper
            self.hide_toast()
            self._render_welcome()
            self.sm.current = "welcome"
        else:
            # The consent question belongs to the session that just ended.
            if outcome.kind is OutcomeKind.SIGNED_OUT and self.sm.current == "welcome":
                self.go_to_attract()
            self.show_toast(_TOAST_KEYS.get(outcome.kind, "toast_not_handled"))

    def show_suggestion(self, sku: str) -> None:
        """Show a suggested product as if its tag had been tapped, so the view is recorded too."""
        self.show_outcome(self.runtime.kiosk.handle(TagRead(TagKind.PRODUCT, uid="screen", sku=sku)))

    def answer_consent(self, granted: bool) -> None:
        """Record the shopper's answer to linking this visit, then wait for the next tap."""
        self.runtime.kiosk.consent(granted)
        self.note_activity()
        self.go_to_attract()
        self.show_toast("consent_given" if granted else "consent_refused")

    def go_to_attract(self) -> None:
        """Back to the invitation to tap; the session goes on."""
        self.sm.current = "attract"

    def toggle_language(self) -> None:
        """Switch between Spanish and English."""
        self.note_activity()
        self.language = other_language(self.language)

    def on_language(self, _app: Any, _language: str) -> None:
        """Re-render every text in the new language."""
        self._render()

    def show_toast(self, key: str) -> None:
        """Float the message ``key`` over the current screen for a few seconds, in both languages."""
        if not self._built:
            return
        self.toast_key = key
        self._render_toast()
        Animation.cancel_all(self._toast_widget, "opacity")
        Animation(opacity=1, duration=0.2).start(self._toast_widget)
        if self._toast_event is not None:
            self._toast_event.cancel()
        self._toast_event = Clock.schedule_once(lambda _dt: self.hide_toast(), TOAST_S)

    def hide_toast(self) -> None:
        """Fade the toast out, if one is showing."""
        if not self._built or not self.toast_key:
            return
        self.toast_key = ""
        Animation.cancel_all(self._toast_widget, "opacity")
        Animation(opacity=0, duration=0.3).start(self._toast_widget)

    def note_activity(self) -> None:
        """Restart the idle countdown."""
        if self._idle_event is not None:
            self._idle_event.cancel()
        self._idle_event = Clock.schedule_once(self._on_idle, self.idle_timeout_s)

    def _on_idle(self, _dt: float) -> None:
        log.info("idle for %.0f s: back to the attract screen, session ended", self.idle_timeout_s)
        self._idle_event = None
        self.hide_toast()
        self.runtime.kiosk.end_session()
        self._shopper = ""
        # Suggestions come from this shopper's history: they must not wait for the next one.
        self._suggestions = ()
        self._render_product()
        # The next shopper starts in the kiosk's own language, not the last shopper's.
        self.language = self.default_language
        self.go_to_attract()

    def _on_touch_down(self, _window: Any, _touch: Any) -> bool:
        self.note_activity()
        return False  # only watching: the touch goes on to the widgets

    def _on_keyboard(self, _window: Any, key: int, *_args: Any) -> bool:
        # A kiosk in fullscreen must not be closed by a stray Escape on an attached keyboard.
        return self.fullscreen and key == _ESCAPE

    def _on_reader_status(self, status: ReaderStatus) -> None:
        if status.state is ReaderState.OFFLINE:
            log.info("reader %s offline: %s", status.path, status.reason)
        self.reader_online = status.state is ReaderState.ONLINE
        self._render_status()

    def _poll_broker(self, _dt: float) -> None:
        self.broker_online = self.runtime.link.connected
        self._render_status()

    def _render(self) -> None:
        self.tx = texts_for(self.language)
        current, other = self.language.upper(), other_language(self.language).upper()
        self.lang_toggle_text = (
            f"[color={theme.ACCENT_HEX}]{current}[/color]  [color={theme.MUTED_HEX}]·  {other}[/color]"
            if self.language == "es"
            else f"[color={theme.MUTED_HEX}]{other}  ·[/color]  [color={theme.ACCENT_HEX}]{current}[/color]"
        )
        self._render_status()
        if not self._built:
            return
        self._render_featured()
        self._render_product()
        self._render_welcome()
        self._render_toast()

    def _render_status(self) -> None:
        self.broker_status_text = self.tx["broker_online" if self.broker_online else "broker_offline"]
        self.reader_status_text = self.tx["reader_online" if self.reader_online else "reader_offline"]
        self.broker_dot_color = theme.OK if self.broker_online else theme.OFF
        self.reader_dot_color = theme.OK if self.reader_online else theme.OFF

    def _render_featured(self) -> None:
        catalog_file = self.kiosk_config.catalog
        screen = self.sm.get_screen("attract")
        screen.show_featured([(image_path(catalog_file, p.image), p.name.get(self.language)) for p in self._featured])

    def _render_product(self) -> None:
        if self._product is None:
            return
        catalog, catalog_file, store = self.runtime.kiosk.catalog, self.kiosk_config.catalog, self.kiosk_config.store
        view = product_view(self._product, catalog, catalog_file, store, self.language)
        cards = suggestion_views(self._suggestions, self._product.sku, catalog, catalog_file, store, self.language)
        self.sm.get_screen("product").show(view, cards)

    def _render_welcome(self) -> None:
        screen = self.sm.get_screen("welcome")
        screen.shopper = self._shopper
        screen.title_text = self.tx["welcome_title"].format(shopper=self._shopper)

    def _render_toast(self) -> None:
        if self.toast_key:
            self.toast_text = self.tx[self.toast_key]
            self.toast_subtext = texts_for(other_language(self.language))[self.toast_key]


def run_kiosk_window(config: KioskConfig, fullscreen: bool, language: str = "es") -> None:
    """Run the kiosk window until it is closed."""
    KioskApp(config, fullscreen=fullscreen, language=language).run()
