"""The kiosk's colours and window size, shared by the Python widgets and the kv files."""

from __future__ import annotations

Rgba = tuple[float, float, float, float]


def rgb(hex_colour: str, alpha: float = 1.0) -> Rgba:
    """An ``#RRGGBB`` colour as the 0-1 RGBA tuple Kivy wants."""
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (red, green, blue, alpha)


BACKGROUND = rgb("#FBFAF8")
SURFACE = rgb("#FFFFFF")
# The product illustrations are drawn on this warm grey; image cards use it so they blend.
IMAGE_BACKDROP = rgb("#EFEBE5")
INK = rgb("#1E2326")
INK_SOFT = rgb("#5B6266")
LINE = rgb("#D9D5CF")
ACCENT = rgb("#0E6B5C")
ACCENT_DOWN = rgb("#0A5044")
ON_ACCENT = rgb("#FFFFFF")
PRESSED = rgb("#ECE8E2")
MUTED_SURFACE = rgb("#EEEDEB")
MUTED_INK = rgb("#8A8F92")
TOAST = rgb("#2C3438")
ON_TOAST_SOFT = rgb("#C9D1D4")
OK = ACCENT
OFF = rgb("#B0B4B7")

KIOSK_WINDOW = (1280, 800)
SIMULATOR_WINDOW = (420, 760)
SIMULATOR_POSITION = (KIOSK_WINDOW[0] + 16, 0)

# Kivy markup takes hex colours: the language toggle highlights the current language.
ACCENT_HEX = "0E6B5C"
MUTED_HEX = "8A8F92"
