"""The kiosk: wires the NFC reader, the catalog, the recommender and the sync link
together behind a Kivy touch screen. ``kiosk`` is its command line.
"""

from kiosk_app.controls import KioskControls, SessionView
from kiosk_app.kiosk import Kiosk, OutcomeKind, TapOutcome
from kiosk_app.runtime import KioskConfig, KioskRuntime
from kiosk_app.session import Mode, SessionMachine, Visit

__all__ = ["Kiosk", "KioskConfig", "KioskControls", "KioskRuntime", "Mode", "OutcomeKind", "SessionMachine",
           "SessionView", "TapOutcome", "Visit"]
