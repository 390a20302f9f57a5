"""The phone: the kiosk's hand-off link opened in headless Chromium at a phone's size
(Playwright with Debian's chromium), the tapped product's wishlist button clicked again and
again. Playwright's sync API keeps to the one thread that runs ``phone_clicks``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
ADD, REMOVE = "Add to my wishlist", "Remove from my wishlist"


def phone_clicks(link: str, sku: str, clicks: int, watch: Callable[[str], None],
                 seen: Callable[[], float | None], kiosk_action: Callable[[], str], wait_s: float) -> list[float]:
    """Each click from the tap on the phone until the kiosk's screen shows it, in ms.

    ``watch(action)`` starts looking for the first frame whose wishlist button offers
    ``action``; ``seen()`` is that frame's time once it came.
    """
    latencies: list[float] = []
    rng = random.Random(13)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE, locale="en-GB").new_page()  # type: ignore[arg-type]
            answer = page.goto(link)
            assert answer is not None and answer.status == 200, answer
            expect(page.locator(".who")).to_contain_text("with your loyalty card", ignore_case=True)
            button = page.locator(f".taps .card[data-sku='{sku}']").get_by_role("button")
            for _ in range(clicks):
                adding = button.inner_text().strip() == ADD
                assert (kiosk_action() == "add") == adding, "the phone and the kiosk disagree"
                watch("remove" if adding else "add")
                sent = time.perf_counter()
                button.tap()
                deadline = time.monotonic() + wait_s
                while seen() is None and time.monotonic() < deadline:
                    time.sleep(0.002)
                at = seen()
                if at is not None:
                    latencies.append((at - sent) * 1000)
                expect(button).to_have_text(REMOVE if adding else ADD, timeout=wait_s * 1000)
                time.sleep(rng.uniform(0, 0.05))
        finally:
            browser.close()
    return latencies
