"""The new kiosk's first screen: its enrolment code, large, for HQ's staff to approve on the
dashboard, then where HQ placed it (``kiosk_app/_enrol.py`` does the asking, on a thread of
its own; the window only shows what it hears)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk_app._enrol import Enrolled, EnrolmentFailed, enrol
from kiosk_app.ui import theme
from kiosk_app.ui.app import run_until_stopped

_SHOWN_AFTER_DONE_S = 3.0  # "Enrolled as ..." stays this long before the kiosk itself starts
_SHOWN_AFTER_FAILURE_S = 15.0


class EnrolApp(App):
    """Shows the code until HQ approves it; ``outcome`` says how it ended."""

    def __init__(self, hq_url: str, hq_cert: Path, settings_dir: Path, poll_s: float, fullscreen: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = "Kiosk enrolment"
        self.outcome: Enrolled | EnrolmentFailed | None = None
        self._asking = threading.Thread(target=self._ask, args=(hq_url, hq_cert, settings_dir, poll_s),
                                        name="kiosk-enrol", daemon=True)
        self._stop_asking = threading.Event()
        self._fullscreen = fullscreen
        self._code_shown: str | None = None

    def build(self) -> Widget:
        from kivy.core.window import Window

        Window.size = theme.KIOSK_WINDOW
        Window.left, Window.top = 0, 0
        if self._fullscreen:
            Window.fullscreen = "auto"  # cage gives the window the whole screen in any case
        Window.clearcolor = theme.BACKGROUND
        Window.bind(on_draw=self._drawn)
        ink, soft, accent = theme.STANDARD["INK"], theme.STANDARD["INK_SOFT"], theme.STANDARD["ACCENT"]
        root = BoxLayout(orientation="vertical", padding=(80, 90), spacing=24)
        self.heading = Label(text="Enrol this kiosk", font_size=44, bold=True, color=ink, size_hint_y=0.2,
                             halign="center", valign="bottom")
        self.code = Label(text="…", font_size=150, bold=True, color=accent, size_hint_y=0.4, halign="center",
                          valign="middle")
        self.hint = Label(text="Asking HQ for a code…", font_size=28, color=soft, size_hint_y=0.4, halign="center",
                          valign="top")
        for label in (self.heading, self.code, self.hint):
            label.bind(size=lambda label, size: setattr(label, "text_size", size))
            root.add_widget(label)
        self._asking.start()
        return root

    def on_stop(self) -> None:
        self._stop_asking.set()

    def _ask(self, hq_url: str, hq_cert: Path, settings_dir: Path, poll_s: float) -> None:
        def on_code(code: str, until: datetime) -> None:
            Clock.schedule_once(lambda _dt: self._show_code(code, until))

        try:
            outcome: Enrolled | EnrolmentFailed = enrol(hq_url, hq_cert, settings_dir, on_code, poll_s,
                                                         self._stop_asking)
        except EnrolmentFailed as exc:
            outcome = exc
        Clock.schedule_once(lambda _dt: self._finish(outcome))

    def _show_code(self, code: str, until: datetime) -> None:
        self.code.text = code
        self.hint.text = (f"Ask HQ's staff to approve this code on the fleet dashboard (Kiosks, Enrol a kiosk), "
                          f"choosing this kiosk's store and name. It is valid until {until.astimezone():%H:%M}.")
        self._code_shown = code

    def _drawn(self, *_args: object) -> None:
        if self._code_shown is not None:  # drawn: on screen once this frame is shown, at the next tick
            code, self._code_shown = self._code_shown, None
            Clock.schedule_once(lambda _dt: print(f"Enrolment code: {code} (on screen)", flush=True))

    def _finish(self, outcome: Enrolled | EnrolmentFailed) -> None:
        self.outcome = outcome
        if isinstance(outcome, Enrolled):
            self.heading.text, self.code.text = "Enrolled", f"{outcome.store} · {outcome.kiosk}"
            self.code.font_size = 72
            self.hint.text = "Starting the kiosk…"
            Clock.schedule_once(lambda _dt: self.stop(), _SHOWN_AFTER_DONE_S)
        else:
            self.heading.text, self.code.text = "Not enrolled", ""
            self.hint.text = f"{outcome}\n\nA new code follows in a moment."
            self.hint.color = theme.STANDARD["WARN"]
            Clock.schedule_once(lambda _dt: self.stop(), _SHOWN_AFTER_FAILURE_S)


def run_enrol_window(hq_url: str, hq_cert: Path, settings_dir: Path, poll_s: float,
                     fullscreen: bool = True) -> Enrolled:
    """Run the enrolment screen until it ends; where HQ placed the kiosk.

    Raises:
        EnrolmentFailed: it did not enrol (the window said why); also when it was closed first.
    """
    app = EnrolApp(hq_url, hq_cert, settings_dir, poll_s, fullscreen)
    run_until_stopped(app)
    if isinstance(app.outcome, Enrolled):
        return app.outcome
    raise app.outcome or EnrolmentFailed("the enrolment screen was closed before HQ approved its code")
