"""Steps the tests of the real kiosk window share: taps on the emulated reader, waiting
for a screen to settle, screenshots, and the cards a row shows.

Set KIOSK_UPDATE_SCREENSHOTS=1 to keep the screenshots in docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from kiosk_app import KioskConfig
from kiosk_app.demo import demo_catalog_path
from nfc_reader import TagEmulator
from testkit.kivy_window import frames_drawn
from testkit.waiting import until

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
KEEP_SCREENSHOTS = os.environ.get("KIOSK_UPDATE_SCREENSHOTS") == "1"


async def settled(app: Any) -> None:
    """Wait until the screen change is over and what changed is laid out and drawn."""
    await until(lambda: not app.sm.transition.is_active)
    await frames_drawn()


async def screenshot(app: Any, name: str, tmp_path: Path) -> Path:
    """Save what the window shows once the screen change and layout are done; kept in
    docs/screenshots when asked to."""
    await settled(app)
    path = (SCREENSHOTS if KEEP_SCREENSHOTS else tmp_path) / f"{name}.png"
    app.root.export_to_png(str(path))
    return path


async def tap(emulator: TagEmulator, message: bytes) -> None:
    """Present ``message`` on the emulated tag until the kiosk's reader has read it."""
    assert await asyncio.get_running_loop().run_in_executor(None, emulator.tap, message)


def kiosk_config(tmp_path: Path, broker: str, emulator: TagEmulator, hq_pem: Path, **extra: Any) -> KioskConfig:
    """The demo store's kiosk-01, reading ``emulator`` and syncing through ``broker``."""
    return KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader=emulator.path,
                       broker=broker, data_dir=tmp_path / "kiosk", hq_public_key=hq_pem, **extra)


def card_skus(row: Any) -> list[str]:
    """The products of a row of cards, left to right."""
    return [card.sku for card in reversed(row.children)]  # Kivy keeps children last-added first


def overflowing_labels(app: Any) -> list[str]:
    """The texts on the screen in view that do not fit their box: wider or taller than their label, or
    pushed out of the screen's area (a column holding more than it has room for), one line each."""
    from kivy.uix.label import Label

    area = app.sm
    problems: list[str] = []

    def visit(widget: Any) -> None:
        if widget.opacity == 0:
            return  # hidden, with all it holds
        if isinstance(widget, Label) and widget.text.strip() and widget.height > 0:
            width, height = widget.texture_size
            left, bottom = widget.to_window(widget.x, widget.y)
            right, top = widget.to_window(widget.right, widget.top)
            if width > widget.width + 1 or height > widget.height + 1:
                problems.append(f"{widget.text!r}: text {width}x{height} in a {widget.width}x{widget.height} box")
            elif left < area.x - 1 or bottom < area.y - 1 or right > area.right + 1 or top > area.top + 1:
                problems.append(f"{widget.text!r}: box {left:.0f},{bottom:.0f}-{right:.0f},{top:.0f} outside the "
                                f"screen {area.x:.0f},{area.y:.0f}-{area.right:.0f},{area.top:.0f}")
        for child in widget.children:
            visit(child)

    visit(area.current_screen)
    return problems


def small_touch_targets(app: Any) -> list[str]:
    """What can be pressed on the screen in view yet is under 48 dp either way, one line each."""
    from kivy.metrics import dp
    from kivy.uix.behaviors import ButtonBehavior

    small: list[str] = []

    def visit(widget: Any) -> None:
        if widget.opacity == 0 or (widget.disabled and widget.height == 0):
            return
        if isinstance(widget, ButtonBehavior) and min(widget.size) < dp(48) - 0.5:
            small.append(f"{type(widget).__name__} {getattr(widget, 'text', '')!r} {widget.size}")
        for child in widget.children:
            visit(child)

    visit(app.sm.current_screen)
    return small
