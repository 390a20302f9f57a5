"""The kiosk window: the Kivy App, its screens and the rooms that run them.

The window owns the App's properties (language, look, status line, toast), the screen
manager and the runtime; what each screen does lives in its room: ``ShopperScreens``
(attract, product, welcome), ``PinPad`` and ``StaffConsole``. The kv files call the
rooms as ``app.shopper``, ``app.pin`` and ``app.staff``.
"""

from __future__ import annotations

import gc
import logging
import time
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

from backend_sync import SystemdNotifier, calling_on_signal
from kiosk_app._allocator import keep_large_blocks_returnable
from kiosk_app._care import ScreenPixels
from kiosk_app._reservation_desk import StoreNews, StoreNewsKind
from kiosk_app._software_slots import SWITCH_EXIT
from kiosk_app.kiosk import OutcomeKind, TapOutcome
from kiosk_app.runtime import KioskConfig, KioskRuntime
from kiosk_app.session import Mode
from kiosk_app.ui import theme
from kiosk_app.ui.host import on_main_thread
from kiosk_app.ui.kv import load_kv
from kiosk_app.ui.pin_pad import PinPad
from kiosk_app.ui.present import store_name
from kiosk_app.ui.screens import (
    AttractScreen,
    KioskShell,
    LockedScreen,
    OfferScreen,
    OfferUnavailableScreen,
    PinScreen,
    ProductScreen,
    StaffScreen,
    WelcomeScreen,
)
from kiosk_app.ui.shopper import ShopperScreens
from kiosk_app.ui.staff_console import StaffConsole
from kiosk_app.ui.texts import LANGUAGES, other_language, texts_for
from kiosk_protocol import CommandKind
from nfc_reader import ReaderState, ReaderStatus

log = logging.getLogger(__name__)

KIOSK_KV = ("widgets.kv", "attract.kv", "product.kv", "offer.kv", "welcome.kv", "locked.kv", "pin.kv", "staff.kv",
            "shell.kv")
TOAST_S = 3.0
BROKER_POLL_S = 1.0
IDLE_CHECK_S = 0.25
IDENTIFY_S = 10.0
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


def _window() -> Any:
    # Importing kivy.core.window opens the window, so it happens only when an app builds.
    from kivy.core.window import Window

    return Window


def _grab_screen() -> ScreenPixels:
    """The window's pixels as drawn now (on the screen's thread: OpenGL's own)."""
    from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

    width, height = _window().size  # as Kivy's own screenshot reads it
    return ScreenPixels(width, height, glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE))


class _Fade(FadeTransition):
    """The way back to the attract screen: a fade that lets go of its framebuffers once it is done.

    Kivy's fade keeps the two screen-sized framebuffers of its last run (~3 MB each, a
    reference cycle with their textures) until the next one. A catalog update's ``gc.freeze``
    took them while held, and the next fade dropped them where no collection looks: one
    pair of framebuffers kept for good at every update.
    """

    def on_complete(self) -> None:
        if getattr(self, "render_ctx", None) is None:  # Kivy's stop() completes the last fade again
            return
        super().on_complete()
        self.fbo_in = self.fbo_out = self.render_ctx = None  # made again by the next fade


class KioskApp(App):
    """The kiosk window: shows what each tap, touch and PIN came to, in the shopper's language and look."""

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
    # The rooms, once the window is built; the kv files call them.
    shopper: ShopperScreens
    pin: PinPad
    staff: StaffConsole

    def __init__(self, config: KioskConfig, fullscreen: bool = False, language: str = "es", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # App.config is Kivy's own settings file, hence a different name.
        self.kiosk_config = config
        self.fullscreen = fullscreen
        self.default_language = language
        self.title = "Kiosk"
        self._runtime: KioskRuntime | None = None
        self.switching = False  # ending to start again on a release HQ sent (``_software``)
        self._built = False
        self._events: list[ClockEvent] = []
        self._toast_event: ClockEvent | None = None
        self._identify_event: ClockEvent | None = None
        self._toast_widget: Any = None
        self._last_touch = time.monotonic()
        self._systemd = SystemdNotifier()  # started by systemd (deploy/kiosk/kiosk.service): its watchdog
        self.language = language
        self._render()

    @property
    def runtime(self) -> KioskRuntime:
        """The kiosk's reader, outbox and link; exists once the window is built."""
        if self._runtime is None:
            raise RuntimeError("the kiosk window has not been built yet")
        return self._runtime

    def build(self) -> Widget:
        """Load the kv files, build the screens and their rooms, and start the runtime."""
        keep_large_blocks_returnable()  # days of images and updates: freed memory goes back
        window = _window()
        if self.fullscreen:
            window.fullscreen = "auto"
        else:
            window.size = theme.KIOSK_WINDOW
            window.left, window.top = 0, 0
        window.clearcolor = theme.BACKGROUND
        load_kv(KIOSK_KV)

        config = self.kiosk_config
        self._runtime = runtime = KioskRuntime(
            config,
            on_outcome=self.show_outcome,
            dispatch=on_main_thread,
            on_reader_status=lambda status: on_main_thread(lambda: self._on_reader_status(status)),
            on_profile=lambda profile: self.shopper.take_profile(profile),
            on_remote=self._on_remote,
            on_catalog=lambda: self.shopper.take_catalog(),
            on_profile_change=lambda change: self.shopper.take_change(change),
            on_store_news=self._on_store_news,
            grab_screen=_grab_screen,
            on_switch=self._switch,
        )
        self.store_title = store_name(runtime.catalog, config.store)
        self.kiosk_label = f"{config.store} · {config.kiosk}"

        shell = KioskShell()
        self.sm = ScreenManager(transition=_Fade(duration=0.15))
        for screen in (AttractScreen(name="attract"), ProductScreen(name="product"), OfferScreen(name="offer"),
                       OfferUnavailableScreen(name="offer_unavailable"), WelcomeScreen(name="welcome"),
                       LockedScreen(name="locked"), PinScreen(name="pin"), StaffScreen(name="staff")):
            self.sm.add_widget(screen)
        shell.ids.screen_area.add_widget(self.sm)
        self.shopper = ShopperScreens(runtime, self, config.store)
        self.pin = PinPad(runtime, self)
        self.staff = StaffConsole(runtime, self)
        self._built = True
        self._toast_widget = shell.ids.toast
        self._render()
        self.show_mode()  # a kiosk locked before a restart opens locked

        window.bind(on_touch_down=self._on_touch_down, on_keyboard=self._on_keyboard)
        self._events = [Clock.schedule_interval(self._poll, BROKER_POLL_S),
                        Clock.schedule_interval(self._check_idle, IDLE_CHECK_S)]
        runtime.start()
        return shell

    def on_start(self) -> None:
        """Keep what start-up built (Kivy, the catalog, the recommender: ~250k objects) out of full
        collections; then tell systemd the window is up and ping its watchdog from the window's loop."""
        # Each full collection walked all of it on the screen's thread: 120-300 ms, every few taps.
        gc.collect()
        gc.freeze()
        self._systemd.ready(f"showing {self.kiosk_label}")
        _window().bind(on_flip=self._first_frame_shown)
        if self._systemd.watchdog_interval_s is not None:
            self._events.append(Clock.schedule_interval(lambda _dt: self._systemd.alive(),
                                                        self._systemd.watchdog_interval_s))

    def _first_frame_shown(self, window: Any) -> None:
        window.unbind(on_flip=self._first_frame_shown)
        self.runtime.software_passed("window")  # a release on trial has its window up

    def _switch(self) -> None:
        """End for the supervisor to start the kiosk again on the release just switched to."""
        self.switching = True
        self.stop()

    def on_stop(self) -> None:
        """Stop the runtime; unsent events stay in the outbox for next time."""
        for event in (*self._events, self._toast_event, self._identify_event):
            if event is not None:
                event.cancel()
        _window().unbind(on_touch_down=self._on_touch_down, on_keyboard=self._on_keyboard)
        if self._runtime is not None:
            self._runtime.stop()
        self._systemd.stopping()

    def open_settings(self, *_args: Any) -> bool:
        """Never: shoppers must not reach Kivy's settings panel (F1)."""
        return False

    def show_outcome(self, outcome: TapOutcome) -> None:
        """Show what a tap, a touch or the PIN came to: a product, a sign's offer, a welcome, staff mode, or a
        short message."""
        log.info("outcome %s %s", outcome.kind.value, outcome.reason)
        self.note_activity()
        if outcome.kind is OutcomeKind.PRODUCT and outcome.product is not None:
            self.hide_toast()
            self.shopper.show_product(outcome.product, outcome.suggestions)
            self._show_at_once("product")
        elif outcome.kind is OutcomeKind.OFFER and outcome.offer is not None:
            self.hide_toast()
            self.shopper.show_offer(outcome.offer, outcome.products)
            self._show_at_once("offer")
        elif outcome.kind is OutcomeKind.OFFER_UNAVAILABLE:
            self.hide_toast()
            self.shopper.show_offer_unavailable(outcome.offer_id or "", outcome.offer)
            self._show_at_once("offer_unavailable")
        elif outcome.kind is OutcomeKind.SIGNED_IN and outcome.shopper is not None:
            self.hide_toast()
            self.shopper.welcome(outcome.shopper)
            self._show_at_once("welcome")
        elif outcome.kind is OutcomeKind.STAFF_SIGNED_IN:
            self.hide_toast()
            self.shopper.forget()
            self.staff.open()
            self.show_mode()
        elif outcome.kind is OutcomeKind.TAG_CHECKED and outcome.read is not None:
            self.staff.show_checked(outcome.read)
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

    def go_to_attract(self) -> None:
        """Back to the invitation to tap (or the staff or locked screen); the session goes on."""
        self.show_mode()

    def show_mode(self, at_once: bool = False) -> None:
        """Show the screen of the kiosk's mode: attract, staff or out of service (``at_once``: without the fade)."""
        if not self._built:
            return
        screen = _MODE_SCREENS.get(self.runtime.state.mode, "attract")
        if at_once:
            self._show_at_once(screen)
        else:
            self.sm.current = screen

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
        if self._built:
            self.staff.render_requests()  # large text lists fewer
            self.shopper.reserve.render()  # the requests' colours are the look's

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
            self._runtime.note_activity()

    def _check_idle(self, _dt: float) -> None:
        self.pin.close_if_idle(time.monotonic() - self._last_touch)
        if self.runtime.expire_idle():
            self.hide_toast()
            # Back to the attract screen, the visit wiped. Nobody is watching, so no fade: it drew
            # both screens for its ~8 frames, up to 67 ms each under a software renderer.
            self._end_visit_on_screen(at_once=True)
        self.runtime.switch_if_idle()  # a new release HQ sent, once nobody is using the kiosk

    def _end_visit_on_screen(self, at_once: bool = False) -> None:
        """The visit is over: wipe it, and the next shopper starts in the kiosk's own language and looks."""
        self.shopper.forget()
        self.language = self.default_language
        self.accessible = False
        self.show_mode(at_once)

    def _on_store_news(self, news: StoreNews) -> None:
        """HQ's word on requests or stock, on the screen's thread: the shopper's screens and staff's follow."""
        self.shopper.take_store_news(news)
        if news.kind is StoreNewsKind.OPEN_REQUESTS and self.runtime.state.mode is Mode.STAFF:
            self.staff.render_requests()

    def _on_remote(self, command: CommandKind) -> None:
        """HQ's order was carried out by the runtime; show its effect."""
        if command is CommandKind.IDENTIFY:
            self._identify()
        elif command in (CommandKind.LOCK, CommandKind.UNLOCK):
            self._end_visit_on_screen()
            self.staff.render()

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
        self.broker_online = self.runtime.broker_connected
        self._render_status()
        if self.runtime.state.mode is Mode.STAFF:
            self.staff.render_health()

    def _render(self) -> None:
        self.tx = texts_for(self.language)
        self._render_status()
        if not self._built:
            return
        self.shopper.render()
        self.staff.render()
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

    def _render_toast(self) -> None:
        if self.toast_key:
            self.toast_text = self.tx[self.toast_key]
            self.toast_subtext = texts_for(other_language(self.language))[self.toast_key]


def run_kiosk_window(config: KioskConfig, fullscreen: bool, language: str = "es") -> None:
    """Run the kiosk window until it is closed, or stopped by SIGINT or SIGTERM."""
    app = KioskApp(config, fullscreen=fullscreen, language=language)
    run_until_stopped(app)
    if app.switching:
        raise SystemExit(SWITCH_EXIT)


def run_until_stopped(app: App) -> None:
    """Run ``app`` until its window closes or the operator stops it (Ctrl-C, SIGTERM): a
    signal stops it on Kivy's clock, through ``on_stop``, like closing the window does."""
    with calling_on_signal(lambda: Clock.schedule_once(lambda _dt: app.stop())):
        app.run()
