"""HQ's remote care at the kiosk: a screenshot of the screen when no shopper is on it, and
the last lines of the kiosk's own log.

The pixels are read on the screen's thread (the only one that may touch OpenGL) and
turned into a PNG on a thread of their own, so the window keeps drawing while it is made.
A shopper signed in (checked again on the screen's thread, where a sign-in happens) gets
``in_use``: their name, wishlist and orders are on the screen.
"""

from __future__ import annotations

import base64
import io
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from kiosk_protocol import (
    MAX_LOG_LINES,
    CareAsk,
    CareOutcome,
    CareRequest,
    CareResponse,
)
from kiosk_protocol._care_messages import MAX_LOG_LINE

log = logging.getLogger(__name__)

SHOT_WIDTH = 1280  # a wider screen is scaled down to this: plenty to see what a shopper sees
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class ScreenPixels:
    """The window's frame buffer as OpenGL reads it: RGB rows, bottom row first, each padded to 4 bytes."""

    width: int
    height: int
    rgb: bytes


def screenshot_png(pixels: ScreenPixels, width: int = SHOT_WIDTH) -> bytes:
    """The frame as a PNG, top row first, scaled down to ``width`` if wider."""
    stride = (pixels.width * 3 + 3) // 4 * 4
    image = Image.frombytes("RGB", (pixels.width, pixels.height), pixels.rgb, "raw", "RGB", stride, -1)
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class LogTail(logging.Handler):
    """The kiosk's last ``MAX_LOG_LINES`` log lines, for HQ to ask for."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(_LOG_FORMAT))
        self._lines: deque[str] = deque(maxlen=MAX_LOG_LINES)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record)[:MAX_LOG_LINE])
        except Exception:  # a record that cannot be formatted must not break the code that logged it
            self.handleError(record)

    def last(self, count: int) -> list[str]:
        """The last ``count`` lines, oldest first."""
        lines = list(self._lines)
        return lines[-count:] if count else []


class KioskCare:
    """Answers HQ's care requests for one kiosk.

    Args:
        answer: sends a response to HQ (the link's ``answer_care``).
        signed_in: whether a shopper is signed in now (called on the screen's thread).
        dispatch: runs work on the screen's thread.
        grab_screen: reads the window's pixels (on the screen's thread); None for a kiosk without one.
    """

    def __init__(self, store: str, kiosk: str, answer: Callable[[CareResponse], None], signed_in: Callable[[], bool],
                 dispatch: Callable[[Callable[[], None]], None],
                 grab_screen: Callable[[], ScreenPixels] | None = None) -> None:
        self.log_tail = LogTail()
        self._store, self._kiosk = store, kiosk
        self._answer, self._signed_in, self._dispatch, self._grab_screen = answer, signed_in, dispatch, grab_screen

    def take(self, request: CareRequest) -> None:
        """Answer ``request`` (called on the link's thread)."""
        log.info("HQ asked for %s", request.ask.value)
        if request.ask is CareAsk.LOGS:
            self._reply(request, CareOutcome.DONE, lines=self.log_tail.last(request.lines))
        elif self._grab_screen is None:
            self._reply(request, CareOutcome.FAILED, detail="this kiosk runs without a screen")
        else:
            self._dispatch(lambda: self._shoot(request))

    def _shoot(self, request: CareRequest) -> None:
        if self._signed_in():
            self._reply(request, CareOutcome.IN_USE, detail="a shopper is signed in at this kiosk")
            return
        assert self._grab_screen is not None
        pixels = self._grab_screen()
        threading.Thread(target=self._send_shot, args=(request, pixels), name="kiosk-screenshot", daemon=True).start()

    def _send_shot(self, request: CareRequest, pixels: ScreenPixels) -> None:
        try:
            png = screenshot_png(pixels)
        except (ValueError, OSError) as exc:
            log.exception("screenshot not made")
            self._reply(request, CareOutcome.FAILED, detail=f"screenshot not made: {exc}"[:500])
            return
        response = self._response(request, CareOutcome.DONE, png=base64.b64encode(png))  # the field takes base64
        if len(response.model_dump_json()) > CareResponse.max_bytes:
            self._reply(request, CareOutcome.FAILED, detail=f"the screenshot is too large to send ({len(png)} bytes)")
            return
        self._answer(response)

    def _reply(self, request: CareRequest, outcome: CareOutcome, **answer: object) -> None:
        self._answer(self._response(request, outcome, **answer))

    def _response(self, request: CareRequest, outcome: CareOutcome, **answer: object) -> CareResponse:
        return CareResponse(request_id=request.request_id, store=self._store, kiosk=self._kiosk, ask=request.ask,
                            outcome=outcome, **answer)  # type: ignore[arg-type]
