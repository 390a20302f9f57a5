"""The shopper-facing kiosk window: attract, product and welcome screens over a KioskRuntime."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock, ClockEvent
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    DictProperty,
    NumericProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.screenmanager import FadeTransition, NoTransition, ScreenManager
from kivy.uix.widget import Widget

from backend_sync import calling_on_signal
from kiosk_app.kiosk import OutcomeKind, TapOutcome
from kiosk_app.runtime import KioskConfig, KioskRuntime, ShopperProfile
from kiosk_app.session import Mode
from kiosk_app.staff import PinVerdict
from kiosk_app.ui import theme
from kiosk_app.ui.kv import load_kv
from kiosk_app.ui.present import (
    checked_tag_text,
    featured_products,
    health_rows,
    image_path,
    product_view,
    profile_cards,
    store_name,
    suggestion_views,
)
from kiosk_app.ui.screens import (
    AttractScreen,
    KioskShell,
    LockedScreen,
    PinScreen,
    ProductScreen,
    StaffScreen,
    WelcomeScreen,
)
from kiosk_app.ui.texts import LANGUAGES, other_language, texts_for
from kiosk_protocol import CommandKind, Product
from nfc_reader import NfcReaderError, ReaderState, ReaderStatus, TagKind, TagRead, WriteResult, encode_product
from recommender import Suggestion

log = logging.getLogger(__name__)

KIOSK_KV = ("widgets.kv", "attract.kv", "product.kv", "welcome.kv", "locked.kv", "pin.kv", "staff.kv", "shell.kv")
TOAST_S = 3.0
BROKER_POLL_S = 1.0
IDLE_CHECK_S = 0.25
IDENTIFY_S = 10.0
WRITE_TIMEOUT_S = 30.0
PIN_LENGTH_MAX = 8
PIN_PAD_IDLE_S = 30.0
# The screen each mode shows when nothing more specific is on.
_MODE_SCREENS = {Mode.IDLE: "attract", Mode.STAFF: "staff", Mode.LOCKED: "locked"}
_ESCAPE = 27
_TOAST_KEYS = {
    OutcomeKind.SIGNED_OUT: "toast_signed_out",
    OutcomeKind.UNKNOWN_PRODUCT: "toast_unknown_product",
    OutcomeKind.UNREADABLE: "toast_unreadable",
    OutcomeKind.CARD_REJECTED: "toast_card_rejected",
    OutcomeKind.NOT_HANDLED: "toast_not_handled",
    OutcomeKind.STAFF_SIGNED_OUT: "toast_staff_signed_out",
    OutcomeKind.BADGE_REJECTED: "toast_badge_rejected",
    OutcomeKind.LOCKED: "toast_locked",
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
    # Large text and high contrast, together: one button, reset for the next shopper.
    accessible = BooleanProperty(False)
    pal = DictProperty(theme.STANDARD)
    text_scale = NumericProperty(1.0)
    identify_text = StringProperty("")
    store_title = StringProperty("")
    kiosk_label = StringProperty("")
    lang_toggle_text = StringProperty("")
    broker_online = BooleanProperty(False)
    reader_online = BooleanProperty(False)
    broker_status_text = StringProperty("")
    reader_status_text = StringProperty("")
    broker_dot_color = ColorProperty(theme.STANDARD["OFF"])
    reader_dot_color = ColorProperty(theme.STANDARD["OFF"])
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
        self.title = "Kiosk"
        self._runtime: KioskRuntime | None = None
        self._built = False
        self._product: Product | None = None
        self._suggestions: tuple[Suggestion, ...] = ()
        self._shopper = ""
        self._profile: ShopperProfile | None = None
        self._consent_answer: bool | None = None
        self._checked: TagRead | None = None
        self._write_status: tuple[str, dict[str, Any]] | None = None
        self._featured: list[Product] = []
        self._events: list[ClockEvent] = []
        self._toast_event: ClockEvent | None = None
        self._identify_event: ClockEvent | None = None
        self._toast_widget: Any = None
        self._last_touch = time.monotonic()
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
            on_profile=self._on_profile,
            on_remote=self._on_remote,
            on_catalog=self._on_catalog,
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
        self.sm.add_widget(LockedScreen(name="locked"))
        self.sm.add_widget(PinScreen(name="pin"))
        self.sm.add_widget(StaffScreen(name="staff"))
        shell.ids.screen_area.add_widget(self.sm)
        self._built = True
        self._toast_widget = shell.ids.toast
        self._render()
        self.show_mode()  # a kiosk locked before a restart opens locked

        window.bind(on_touch_down=self._on_touch_down, on_keyboard=self._on_keyboard)
        self._events = [Clock.schedule_interval(self._poll, BROKER_POLL_S),
                        Clock.schedule_interval(self._check_idle, IDLE_CHECK_S)]
        self._runtime.start()
        return shell

    def on_start(self) -> None:
        """Keep what start-up built (Kivy, the catalog, the recommender: ~250k objects) out of full collections."""
        # Each full collection walked all of it on the screen's thread: 120-300 ms, every few taps.
        gc.collect()
        gc.freeze()

    def on_stop(self) -> None:
        """Stop the runtime; unsent events stay in the outbox for next time."""
        for event in (*self._events, self._toast_event, self._identify_event):
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
            self._show_at_once("product")
        elif outcome.kind is OutcomeKind.SIGNED_IN and outcome.shopper is not None:
            self._forget_shopper()
            self._shopper = outcome.shopper
            self.hide_toast()
            self._render_welcome()
            self._show_at_once("welcome")
        elif outcome.kind is OutcomeKind.STAFF_SIGNED_IN:
            self._forget_shopper()
            self._checked, self._write_status = None, None
            self.hide_toast()
            self._render_staff()
            self.show_mode()
        elif outcome.kind is OutcomeKind.TAG_CHECKED and outcome.read is not None:
            self._checked = outcome.read
            self._render_staff()
        else:
            if outcome.kind in (OutcomeKind.SIGNED_OUT, OutcomeKind.STAFF_SIGNED_OUT):
                self._end_visit_on_screen()
            self.show_toast(_TOAST_KEYS.get(outcome.kind, "toast_not_handled"))

    def _show_at_once(self, screen: str) -> None:
        """What a tap brought up, in the next frame: a fade draws both screens for each of
        its frames, and kept the shopper waiting ~0.3 s under a software renderer."""
        instant = NoTransition()
        fade, self.sm.transition = self.sm.transition, instant
        self.sm.current = screen
        instant.stop()  # finished now, so no later fade can overlap it
        self.sm.transition = fade

    def show_suggestion(self, sku: str) -> None:
        """Show a suggested product as if its tag had been tapped, so the view is recorded too."""
        self.show_outcome(self.runtime.kiosk.handle(TagRead(TagKind.PRODUCT, uid="screen", sku=sku)))

    def answer_consent(self, granted: bool) -> None:
        """Record the shopper's answer to linking this visit; the welcome stays with their lists."""
        self.runtime.kiosk.consent(granted)
        self._consent_answer = granted
        self.note_activity()
        self._render_welcome()
        self._render_wishlist_button()  # it follows the answer
        self.show_toast("consent_given" if granted else "consent_refused")

    def toggle_wishlist(self) -> None:
        """Add the product in view to the shopper's wishlist, or take it off."""
        if self._product is None:
            return
        wanted = self._product.sku not in self.runtime.kiosk.session.wishlist
        if self.runtime.kiosk.set_wishlist(self._product.sku, wanted):
            self.show_toast("toast_wishlist_added" if wanted else "toast_wishlist_removed")
        self._render_wishlist_button()
        self._render_welcome()

    def go_to_attract(self) -> None:
        """Back to the invitation to tap (or the staff or locked screen); the session goes on."""
        self.show_mode()

    def show_mode(self) -> None:
        """Show the screen of the kiosk's mode: attract, staff or out of service."""
        if self._built:
            self.sm.current = _MODE_SCREENS.get(self.runtime.kiosk.machine.mode, "attract")

    def toggle_language(self) -> None:
        """Switch between Spanish and English."""
        self.note_activity()
        self.language = other_language(self.language)

    def toggle_accessible(self) -> None:
        """Large text and high contrast on or off, for this shopper."""
        self.note_activity()
        self.accessible = not self.accessible

    def on_accessible(self, _app: Any, accessible: bool) -> None:
        """Swap the palette and the text size."""
        self.pal = theme.HIGH_CONTRAST if accessible else theme.STANDARD
        self.text_scale = theme.LARGE_TEXT_SCALE if accessible else 1.0
        _window().clearcolor = self.pal["BACKGROUND"]
        self._render_status()

    # Staff: the PIN pad, the staff screen's actions.

    def open_pin_pad(self) -> None:
        """Show the PIN pad (staff holding the kiosk label, or the button on the locked screen)."""
        if self.runtime.kiosk.machine.mode is Mode.STAFF:
            return
        pad = self.sm.get_screen("pin")
        pad.entered, pad.message = "", ""
        self.note_activity()
        self.sm.current = "pin"

    def close_pin_pad(self) -> None:
        """Back to whatever the kiosk was showing for its mode."""
        self.sm.get_screen("pin").entered = ""
        self.show_mode()

    def pin_key(self, digit: str) -> None:
        """One digit typed on the pad."""
        pad = self.sm.get_screen("pin")
        self.note_activity()
        if len(pad.entered) < PIN_LENGTH_MAX:
            pad.entered += digit
            pad.message = ""

    def pin_clear(self) -> None:
        """Start the PIN again."""
        self.sm.get_screen("pin").entered = ""

    def pin_submit(self) -> None:
        """Check the PIN; the right one opens staff mode."""
        pad = self.sm.get_screen("pin")
        check = self.runtime.staff_pin.check(pad.entered)
        pad.entered = ""
        if check.verdict is PinVerdict.ACCEPTED:
            self.runtime.kiosk.machine.enter_staff("PIN")
            self.show_outcome(TapOutcome(OutcomeKind.STAFF_SIGNED_IN, shopper="PIN"))
        elif check.verdict is PinVerdict.NOT_SET:
            self.close_pin_pad()
            self.show_toast("toast_pin_not_set")
        elif check.verdict is PinVerdict.WRONG:
            pad.message = self.tx["pin_wrong"].format(tries=check.tries_left)
        else:
            pad.message = self.tx["pin_locked_out"].format(minutes=max(1, round(check.wait_s / 60)))

    def leave_staff(self) -> None:
        """Close staff mode (back to shoppers, or out of service while locked)."""
        self.runtime.reader.cancel_write()
        self.runtime.kiosk.machine.leave_staff()
        self.show_mode()
        self.show_toast("toast_staff_signed_out")

    def force_sync(self) -> None:
        """Send what HQ has not confirmed yet, now."""
        self.note_activity()
        self.runtime.sync_now()
        self._write_status = ("staff_sync_started", {"count": len(self.runtime.outbox)})
        self._render_staff()

    def toggle_lock(self) -> None:
        """Lock the kiosk (out of service when staff leave) or unlock it."""
        self.note_activity()
        if self.runtime.kiosk.machine.lock_reason:
            self.runtime.unlock()
        else:
            self.runtime.lock("staff")
        self._render_staff()

    def write_tag(self, sku: str) -> None:
        """Write a product tag for ``sku`` on the next tag held to the reader, then read it back."""
        self.note_activity()
        sku = sku.strip().upper()
        catalog = self.runtime.kiosk.catalog
        if catalog.product(sku) is None:
            self._write_status = ("staff_unknown_sku", {"sku": sku})
            self._render_staff()
            return
        try:
            future = self.runtime.reader.write_next(encode_product(catalog.shop_url, sku), WRITE_TIMEOUT_S)
        except NfcReaderError as exc:
            self._write_status = ("staff_write_failed", {"reason": str(exc)})
            self._render_staff()
            return
        self._write_status = ("staff_write_waiting", {})
        self.sm.get_screen("staff").writing = True
        self._render_staff()
        # The reader's thread settles the future; the screen hears of it on its own thread.
        future.add_done_callback(lambda done: on_main_thread(lambda: self._write_done(sku, done)))

    def _write_done(self, sku: str, done: Any) -> None:
        self.sm.get_screen("staff").writing = False
        if done.cancelled():
            self._write_status = None
        elif done.exception() is not None:
            self._write_status = ("staff_write_failed", {"reason": str(done.exception())})
        else:
            result: WriteResult = done.result()
            self._write_status = ("staff_write_done", {"sku": sku, "uid": result.uid})
        self._render_staff()

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
        self._last_touch = time.monotonic()
        if self._runtime is not None:
            self._runtime.kiosk.machine.touch()

    def _check_idle(self, _dt: float) -> None:
        machine = self.runtime.kiosk.machine
        if self.sm.current == "pin" and time.monotonic() - self._last_touch > PIN_PAD_IDLE_S:
            self.close_pin_pad()  # a PIN pad left open goes away like a visit would
        if not machine.expire():
            return
        log.info("idle for %.0f s: back to the attract screen, visit wiped", machine.idle_timeout_s)
        self.runtime.reader.cancel_write()
        self.hide_toast()
        self._end_visit_on_screen()

    def _forget_shopper(self) -> None:
        """Wipe everything of the last visit from the screens."""
        self._shopper, self._profile, self._consent_answer = "", None, None
        self._product, self._suggestions = None, ()
        self.sm.get_screen("product").show_empty()
        self._render_welcome()

    def _end_visit_on_screen(self) -> None:
        """The visit is over: wipe it, and the next shopper starts in the kiosk's own language and looks."""
        self._forget_shopper()
        self.language = self.default_language
        self.accessible = False
        self.show_mode()

    def _on_profile(self, profile: ShopperProfile) -> None:
        """The signed-in shopper's profile arrived from HQ (or the cache)."""
        if profile.response.shopper == self._shopper:
            self._profile = profile
            self._render_welcome()
            self._render_wishlist_button()

    def _on_remote(self, command: CommandKind) -> None:
        """HQ's order was carried out by the runtime; show its effect."""
        if command is CommandKind.IDENTIFY:
            self._identify()
        elif command in (CommandKind.LOCK, CommandKind.UNLOCK):
            self._end_visit_on_screen()
            self._render_staff()

    def _identify(self) -> None:
        banner = self.root.ids.identify
        self.identify_text = self.tx["identify_title"].format(kiosk=self.kiosk_label)
        Animation.cancel_all(banner, "opacity")
        blink = Animation(opacity=1, duration=0.4) + Animation(opacity=0.35, duration=0.4)
        blink.repeat = True
        blink.start(banner)
        if self._identify_event is not None:
            self._identify_event.cancel()

        def stop(_dt: float) -> None:
            Animation.cancel_all(banner, "opacity")
            banner.opacity = 0

        self._identify_event = Clock.schedule_once(stop, IDENTIFY_S)

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

    def _poll(self, _dt: float) -> None:
        self.broker_online = self.runtime.link.connected
        self._render_status()
        if self.runtime.kiosk.machine.mode is Mode.STAFF:
            self._render_health()

    def _render(self) -> None:
        self.tx = texts_for(self.language)
        self._render_status()
        if not self._built:
            return
        self._render_featured()
        self._render_product()
        self._render_welcome()
        self._render_staff()
        self._render_toast()

    def _render_status(self) -> None:
        self.broker_status_text = self.tx["broker_online" if self.broker_online else "broker_offline"]
        self.reader_status_text = self.tx["reader_online" if self.reader_online else "reader_offline"]
        self.broker_dot_color = self.pal["OK"] if self.broker_online else self.pal["OFF"]
        self.reader_dot_color = self.pal["OK"] if self.reader_online else self.pal["OFF"]
        # The current language is marked by colour and by being first-class text; the other is muted.
        current, other = self.language.upper(), other_language(self.language).upper()
        on, off = theme.hex_of(self.pal["ACCENT"]), theme.hex_of(self.pal["MUTED_INK"])
        self.lang_toggle_text = (
            f"[b][color={on}]{current}[/color][/b]  [color={off}]·  {other}[/color]"
            if self.language == "es"
            else f"[color={off}]{other}  ·[/color]  [b][color={on}]{current}[/color][/b]"
        )

    def _on_catalog(self) -> None:
        """HQ's new catalog is in use: the attract screen features from it."""
        self._featured = featured_products(self.runtime.kiosk.catalog)
        self._render_featured()

    def _render_featured(self) -> None:
        catalog_file = self.runtime.catalog_file
        screen = self.sm.get_screen("attract")
        screen.show_featured([(image_path(catalog_file, p.image), p.name.get(self.language)) for p in self._featured])

    def _render_product(self) -> None:
        if self._product is None:
            return
        catalog, catalog_file, store = self.runtime.kiosk.catalog, self.runtime.catalog_file, self.kiosk_config.store
        view = product_view(self._product, catalog, catalog_file, store, self.language)
        cards = suggestion_views(self._suggestions, self._product.sku, catalog, catalog_file, store, self.language)
        self.sm.get_screen("product").show(view, cards)
        self._render_wishlist_button()

    def _render_wishlist_button(self) -> None:
        visit, product = self.runtime.kiosk.session, self._product
        self.sm.get_screen("product").wishlist_action = (
            "" if visit.identity is None or product is None else "remove" if product.sku in visit.wishlist else "add")

    def _render_welcome(self) -> None:
        screen = self.sm.get_screen("welcome")
        screen.shopper = self._shopper
        screen.title_text = self.tx["welcome_title"].format(shopper=self._shopper)
        screen.answered = self._consent_answer is not None
        screen.answer_text = self.tx["welcome_linked" if self._consent_answer else "welcome_not_linked"]
        profile = self._profile
        if profile is None:
            screen.profile_note = self.tx["welcome_loading"] if self._shopper else ""
            screen.show_profile((), ())
            return
        screen.profile_note = self.tx["welcome_from_cache"] if profile.from_cache else ""
        catalog, catalog_file, store = self.runtime.kiosk.catalog, self.runtime.catalog_file, self.kiosk_config.store
        # The wishlist as it stands now: the profile's, with this visit's changes.
        wishlist = tuple(self.runtime.kiosk.session.wishlist)
        ordered = tuple(sku for sku in profile.response.wishlist if sku in wishlist) + tuple(
            sku for sku in wishlist if sku not in profile.response.wishlist)
        screen.show_profile(
            profile_cards(profile.response.recent_skus, "reason_viewed_before", catalog, catalog_file, store,
                          self.language),
            profile_cards(ordered, "reason_in_wishlist", catalog, catalog_file, store, self.language))

    def _render_staff(self) -> None:
        if not self._built:
            return
        screen = self.sm.get_screen("staff")
        machine = self.runtime.kiosk.machine
        screen.member_text = self.tx["staff_member"].format(member=machine.staff_member or "")
        screen.locked = machine.lock_reason is not None
        screen.checked_text = (checked_tag_text(self._checked, self.runtime.kiosk.catalog, self.language)
                               if self._checked else "")
        key, fields = self._write_status or ("", {})
        screen.write_text = self.tx[key].format(**fields) if key else ""
        self._render_health()

    def _render_health(self) -> None:
        self.sm.get_screen("staff").show_health(health_rows(self.runtime.health(), self.language))

    def _render_toast(self) -> None:
        if self.toast_key:
            self.toast_text = self.tx[self.toast_key]
            self.toast_subtext = texts_for(other_language(self.language))[self.toast_key]


def run_kiosk_window(config: KioskConfig, fullscreen: bool, language: str = "es") -> None:
    """Run the kiosk window until it is closed, or stopped by SIGINT or SIGTERM."""
    run_until_stopped(KioskApp(config, fullscreen=fullscreen, language=language))


def run_until_stopped(app: App) -> None:
    """Run ``app`` until its window closes or the operator stops it (Ctrl-C, SIGTERM): a
    signal stops it on Kivy's clock, through ``on_stop``, like closing the window does."""
    with calling_on_signal(lambda: Clock.schedule_once(lambda _dt: app.stop())):
        app.run()
