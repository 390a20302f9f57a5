"""What the kiosk window's rooms (the shopper's screens, the PIN pad, the staff console)
ask of the window they are in, and how work reaches its thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kivy.clock import Clock
from kivy.uix.screenmanager import ScreenManager

from kiosk_app.ui import theme


def on_main_thread(work: Callable[[], None]) -> None:
    """Run ``work`` on Kivy's main thread at the next frame; safe to call from any thread."""
    Clock.schedule_once(lambda _dt: work())


class Host(Protocol):
    """The window around a room: its screens, its language and its messages."""

    sm: ScreenManager

    @property
    def language(self) -> str:
        """The language the screens speak now."""

    @property
    def pal(self) -> dict[str, theme.Rgba]:
        """The look's colours by name (standard, or high contrast)."""

    @property
    def text_scale(self) -> float:
        """1 for the usual text, more in large text."""

    @property
    def tx(self) -> dict[str, str]:
        """Every text of the screens in that language, by message id."""

    def show_toast(self, key: str) -> None:
        """Float the message ``key`` over the current screen for a few seconds."""

    def show_mode(self) -> None:
        """Show the screen of the kiosk's mode: attract, staff or out of service."""

    def note_activity(self) -> None:
        """Restart the idle countdown."""
