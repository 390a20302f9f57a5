"""The kiosk: wires the NFC reader, the catalog, the recommender and the sync link
together behind a Kivy touch screen. ``kiosk`` is its command line.
"""

from kiosk_app.kiosk import Kiosk, OutcomeKind, Session, TapOutcome
from kiosk_app.runtime import KioskConfig, KioskRuntime

__all__ = ["Kiosk", "KioskConfig", "KioskRuntime", "OutcomeKind", "Session", "TapOutcome"]
