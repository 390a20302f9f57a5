"""The real kiosk window under a test: run it beside a scenario, and wait for frames drawn.

Needs a screen (``testkit.xvfb``); Kivy opens its window on first use.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from kiosk_app import KioskConfig
from testkit.waiting import until


def quiet_kivy() -> None:
    """No argv parsing, no files in the home directory, no console log; Kivy reads these at import."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")


async def frames_drawn(count: int = 2) -> None:
    """Wait until Kivy has drawn ``count`` more frames: what changed before is laid out and on screen.

    Each frame runs the pending layouts first, then draws (needs the running kiosk window).
    """
    from kivy.clock import Clock

    target = Clock.frames_displayed + count
    await until(lambda: Clock.frames_displayed >= target)


def run_kiosk_window(config: KioskConfig, scenario: Callable[[Any], Awaitable[None]]) -> None:
    """Run the real kiosk window and ``scenario(app)`` beside it; the window closes after."""
    from kiosk_app.ui import KioskApp

    app = KioskApp(config)

    async def drive() -> None:
        try:
            await until(lambda: app.root is not None and app.runtime.link.connected)
            await scenario(app)
        finally:
            app.stop()

    async def both() -> None:
        await asyncio.gather(app.async_run("asyncio"), drive())

    asyncio.run(both())
