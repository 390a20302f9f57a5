"""The kiosk's side of remote care, as pure parts: the frame buffer read bottom-up with
padded rows turned into a PNG the right way up, and the log's last lines."""

from __future__ import annotations

import io
import logging

from PIL import Image

from kiosk_app._care import LogTail, ScreenPixels, screenshot_png
from kiosk_protocol import MAX_LOG_LINES
from kiosk_protocol._care_messages import MAX_LOG_LINE


def _frame(width: int, height: int) -> ScreenPixels:
    """A red top row over blue rows, as OpenGL gives it: bottom row first, each row padded to 4 bytes."""
    stride = (width * 3 + 3) // 4 * 4
    rows = [(b"\x00\x00\xff" * width).ljust(stride, b"\x00") for _ in range(height - 1)]
    rows.append((b"\xff\x00\x00" * width).ljust(stride, b"\x00"))  # the last row read is the top one
    return ScreenPixels(width, height, b"".join(rows))


def test_a_frame_becomes_a_png_the_right_way_up_whatever_its_row_padding() -> None:
    image = Image.open(io.BytesIO(screenshot_png(_frame(5, 3)))).convert("RGB")  # 15-byte rows, padded to 16
    assert image.size == (5, 3)
    assert image.getpixel((0, 0)) == image.getpixel((4, 0)) == (255, 0, 0)
    assert image.getpixel((0, 1)) == image.getpixel((4, 2)) == (0, 0, 255)


def test_a_wide_screen_is_scaled_down_keeping_its_shape() -> None:
    image = Image.open(io.BytesIO(screenshot_png(_frame(1920, 1080))))
    assert image.size == (1280, 720)


def test_the_log_tail_keeps_the_last_lines_cut_to_their_length() -> None:
    tail = LogTail()
    logger = logging.getLogger("tests.care")
    logger.addHandler(tail)
    logger.setLevel(logging.INFO)
    try:
        for n in range(MAX_LOG_LINES + 20):
            logger.info("line %d", n)
        logger.warning("x" * (MAX_LOG_LINE * 2))
    finally:
        logger.removeHandler(tail)
    last = tail.last(MAX_LOG_LINES)
    assert len(last) == MAX_LOG_LINES
    assert last[0].endswith("line 21") and "WARNING tests.care: xxx" in last[-1]
    assert len(last[-1]) == MAX_LOG_LINE
    assert tail.last(2)[0].endswith(f"line {MAX_LOG_LINES + 19}")
