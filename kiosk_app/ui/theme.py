"""The kiosk's colours and window size, shared by the Python widgets and the kv files."""

from __future__ import annotations

Rgba = tuple[float, float, float, float]


def rgb(hex_colour: str, alpha: float = 1.0) -> Rgba:
    """An ``#RRGGBB`` colour as the 0-1 RGBA tuple Kivy wants."""
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (red, green, blue, alpha)


# Colour roles by name; kv files read them from the app's current palette (``app.pal``)
# so that the high-contrast mode can swap them all at once.
STANDARD: dict[str, Rgba] = {
    "BACKGROUND": rgb("#FBFAF8"),
    "SURFACE": rgb("#FFFFFF"),
    # The product illustrations are drawn on this warm grey; image cards use it so they blend.
    "IMAGE_BACKDROP": rgb("#EFEBE5"),
    "INK": rgb("#1E2326"),
    "INK_SOFT": rgb("#5B6266"),
    "LINE": rgb("#D9D5CF"),
    "ACCENT": rgb("#0E6B5C"),
    "ACCENT_DOWN": rgb("#0A5044"),
    "ON_ACCENT": rgb("#FFFFFF"),
    "PRESSED": rgb("#ECE8E2"),
    "MUTED_SURFACE": rgb("#EEEDEB"),
    "MUTED_INK": rgb("#8A8F92"),
    "TOAST": rgb("#2C3438"),
    "ON_TOAST_SOFT": rgb("#C9D1D4"),
    "OK": rgb("#0E6B5C"),
    "OFF": rgb("#B0B4B7"),
    "WARN": rgb("#A4442A"),
}
# Black on white with darker accents and firm outlines: every text pair is at least 7:1 (WCAG AAA).
HIGH_CONTRAST: dict[str, Rgba] = {
    **STANDARD,
    "BACKGROUND": rgb("#FFFFFF"),
    "IMAGE_BACKDROP": rgb("#FFFFFF"),
    "INK": rgb("#000000"),
    "INK_SOFT": rgb("#1A1A1A"),
    "LINE": rgb("#000000"),
    "ACCENT": rgb("#00473D"),
    "ACCENT_DOWN": rgb("#002B25"),
    "PRESSED": rgb("#D6D6D6"),
    "MUTED_SURFACE": rgb("#E6E6E6"),
    "MUTED_INK": rgb("#3D3D3D"),
    "TOAST": rgb("#000000"),
    "ON_TOAST_SOFT": rgb("#FFFFFF"),
    "OK": rgb("#00473D"),
    "OFF": rgb("#3D3D3D"),
    "WARN": rgb("#7A1F0B"),
}
# Large text: every font grows by this much; layouts that hold text grow with it.
LARGE_TEXT_SCALE = 1.25

# The demo simulator and the window background before the palette is known.
BACKGROUND = STANDARD["BACKGROUND"]
ACCENT, ACCENT_DOWN, ON_ACCENT = STANDARD["ACCENT"], STANDARD["ACCENT_DOWN"], STANDARD["ON_ACCENT"]

KIOSK_WINDOW = (1280, 800)
SIMULATOR_WINDOW = (420, 760)
SIMULATOR_POSITION = (KIOSK_WINDOW[0] + 16, 0)


def hex_of(colour: Rgba) -> str:
    """A colour as the ``RRGGBB`` Kivy markup takes (the language toggle's highlight)."""
    return "".join(f"{round(channel * 255):02X}" for channel in colour[:3])
