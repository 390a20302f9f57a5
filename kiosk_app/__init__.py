"""The kiosk: wires the NFC reader, the catalog, the recommender and the sync link
together behind a Kivy touch screen. ``kiosk`` is its command line.

Each name is imported from its module when first used: the ``kiosk`` command lives in
this package and runs at HQ too, where the kiosk's libraries (nfcpy, Kivy) are not
installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk_app.controls import KioskControls, SessionView
    from kiosk_app.kiosk import Kiosk, OutcomeKind, TapOutcome
    from kiosk_app.runtime import KioskConfig, KioskRuntime
    from kiosk_app.session import Mode, SessionMachine, Visit

_MODULES = {
    "kiosk_app.controls": ("KioskControls", "SessionView"),
    "kiosk_app.kiosk": ("Kiosk", "OutcomeKind", "TapOutcome"),
    "kiosk_app.runtime": ("KioskConfig", "KioskRuntime"),
    "kiosk_app.session": ("Mode", "SessionMachine", "Visit"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = ["Kiosk", "KioskConfig", "KioskControls", "KioskRuntime", "Mode", "OutcomeKind", "SessionMachine",
           "SessionView", "TapOutcome", "Visit"]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
