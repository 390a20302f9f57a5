"""The kiosk's Kivy windows: the shopper-facing kiosk and the demo's tag simulator.

This is the only package that imports Kivy; the CLI imports it lazily.
"""

from kiosk_app.ui import _kivy_env  # noqa: F401  (must run before Kivy is imported)
from kiosk_app.ui.app import KioskApp, run_kiosk_window
from kiosk_app.ui.simulator import SimulatorApp, run_simulator_window

__all__ = ["KioskApp", "SimulatorApp", "run_kiosk_window", "run_simulator_window"]
