"""The staff PIN pad: digits typed as dots, checked by the runtime, closed when left idle."""

from __future__ import annotations

from kiosk_app.controls import KioskControls
from kiosk_app.session import Mode
from kiosk_app.staff import PinVerdict
from kiosk_app.ui.host import Host

PIN_LENGTH_MAX = 8
PIN_PAD_IDLE_S = 30.0


class PinPad:
    """The way into staff mode when no badge is at hand; the right PIN opens it like a badge."""

    def __init__(self, controls: KioskControls, host: Host) -> None:
        self._controls = controls
        self._host = host

    def open(self) -> None:
        """Show the pad (staff holding the kiosk label, or the button on the locked screen)."""
        if self._controls.state.mode is Mode.STAFF:
            return
        pad = self._host.sm.get_screen("pin")
        pad.entered, pad.message = "", ""
        self._host.note_activity()
        self._host.sm.current = "pin"

    def close(self) -> None:
        """Back to whatever the kiosk was showing for its mode."""
        self._host.sm.get_screen("pin").entered = ""
        self._host.show_mode()

    def close_if_idle(self, idle_s: float) -> None:
        """A pad left open goes away like a visit would."""
        if self._host.sm.current == "pin" and idle_s > PIN_PAD_IDLE_S:
            self.close()

    def key(self, digit: str) -> None:
        """One digit typed on the pad."""
        pad = self._host.sm.get_screen("pin")
        self._host.note_activity()
        if len(pad.entered) < PIN_LENGTH_MAX:
            pad.entered += digit
            pad.message = ""

    def clear(self) -> None:
        """Start the PIN again."""
        self._host.sm.get_screen("pin").entered = ""

    def submit(self) -> None:
        """Check the PIN; the right one opens staff mode (the window hears of it as an outcome)."""
        pad = self._host.sm.get_screen("pin")
        check = self._controls.enter_staff_pin(pad.entered)
        pad.entered = ""
        tx = self._host.tx
        if check.verdict is PinVerdict.NOT_SET:
            self.close()
            self._host.show_toast("toast_pin_not_set")
        elif check.verdict is PinVerdict.WRONG:
            pad.message = tx["pin_wrong"].format(tries=check.tries_left)
        elif check.verdict is PinVerdict.LOCKED_OUT:
            pad.message = tx["pin_locked_out"].format(minutes=max(1, round(check.wait_s / 60)))
