"""The offer page a sign tag's URI opens (``/o/<offer-id>``), served by HQ's app on uvicorn
and opened in a headless Chromium at a phone's size (Playwright with Debian's chromium):
a running offer's products at their price after it with the usual one struck through,
in both languages; an ended and a scheduled offer on their own clear pages; an unknown
or malformed id a 404 page in the same style.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/phone-offer*.png from this run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, CatalogFile, PhonePages, ProfileStore, create_app
from kiosk_app.demo import demo_catalog, free_port
from kiosk_protocol import Offer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # HQ's clock for these pages
expect.set_options(timeout=20_000)

OFFERS = [
    {"id": "WINTER-BOOTS", "title": {"es": "Botas para el invierno", "en": "Boots for the winter"},
     "terms": {"es": "Descuento sobre el precio de la etiqueta. No acumulable con otras ofertas.",
               "en": "Off the ticket price. Not combined with other offers."},
     "discount": {"kind": "percent", "value": 20}, "category": "footwear/boots",
     "stores": ["madrid-centro", "barcelona-diagonal"],
     "starts": "2026-11-20T00:00:00+01:00", "ends": "2027-01-01T00:00:00+01:00"},
    {"id": "TOTE-CLUB", "title": {"es": "El shopper de piel a 99 €", "en": "The leather tote at €99"},
     "terms": {"es": "Con tu tarjeta de cliente, una vez.", "en": "With your loyalty card, once."},
     "discount": {"kind": "price", "value": 99}, "skus": ["BAG-TOTE-BRN"], "stores": ["madrid-centro"],
     "starts": "2026-11-01T00:00:00+01:00", "ends": "2026-12-24T20:00:00+01:00", "audience": "members"},
    {"id": "SUMMER-SANDALS", "title": {"es": "Sandalias de verano", "en": "Summer sandals"},
     "terms": {"es": "10 € menos.", "en": "€10 off."}, "discount": {"kind": "amount", "value": 10},
     "skus": ["SAND-STRAP-CML"], "stores": ["madrid-centro"],
     "starts": "2026-06-01T00:00:00+02:00", "ends": "2026-09-01T00:00:00+02:00"},
    {"id": "KNIT-WEEK", "title": {"es": "Semana del punto", "en": "Knitwear week"},
     "terms": {"es": "En jerséis y chaquetas de punto.", "en": "On jumpers and cardigans."},
     "discount": {"kind": "percent", "value": 15}, "category": "knitwear", "stores": ["barcelona-diagonal"],
     "starts": "2026-12-15T09:00:00+01:00", "ends": "2026-12-22T00:00:00+01:00"},
]


@dataclass
class Hq:
    url: str
    store: ProfileStore


@pytest.fixture
def hq(sqlite_url: str, tmp_path: Path) -> Iterator[Hq]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = ProfileStore(sqlite_url)
    store.offers.merge(Offer.model_validate(offer) for offer in OFFERS)
    pages = PhonePages(store, CatalogFile(demo_catalog(tmp_path / "hq", url)), clock=NOW.timestamp)
    server = ApiServer(create_app(store, ApiKeys({"web": "web-key-0123456789abcdef"}), phone=pages), port=port)
    server.start()
    yield Hq(url, store)
    server.stop()
    store.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _phone(browser: Browser, language: str) -> BrowserContext:
    return browser.new_context(**PHONE, locale={"es": "es-ES", "en": "en-GB"}[language])  # type: ignore[arg-type]


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / name
    page.screenshot(path=str(target), full_page=True)
    return target


def _fits_a_phone(page: Page) -> None:
    """Nothing wider than the screen, the style sheet applied, and every control at least 48 px high."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # phone.css, allowed by the CSP
    for control in page.locator("a.switch, .button, .card-link").all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 48, control.inner_text()


def test_a_running_offer_shows_its_products_at_the_price_after_it_in_both_languages(
        hq: Hq, browser: Browser, tmp_path: Path) -> None:
    page = _phone(browser, "es").new_page()
    answer = page.goto(f"{hq.url}/o/WINTER-BOOTS")
    assert answer is not None and answer.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Botas para el invierno")
    expect(page.locator(".deal")).to_have_text("20\u00a0% de descuento")
    expect(page.locator(".when")).to_have_text("Hasta el 31 de diciembre de 2026")  # ends at midnight on the 1st
    expect(page.locator(".where")).to_have_text("En Madrid Centro, Barcelona Diagonal")
    expect(page.locator(".members")).to_have_count(0)
    expect(page.locator(".card-name")).to_have_text(["Botín Chelsea negro", "Botín Chelsea de ante camel"])
    expect(page.locator(".offer-price")).to_have_text(["71,96\u00a0€", "75,96\u00a0€"])
    expect(page.locator("s.usual")).to_have_text(["89,95\u00a0€", "94,95\u00a0€"])
    assert page.locator("s.usual").first.evaluate("s => getComputedStyle(s).textDecorationLine") == "line-through"
    assert page.locator(".card img").first.evaluate("image => image.naturalWidth") > 0  # served by HQ, no CDN
    expect(page.locator(".terms")).to_contain_text("No acumulable")
    _fits_a_phone(page)
    _screenshot(page, "phone-offer.png", tmp_path)
    page.get_by_role("link", name="Read this page in English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Boots for the winter")
    expect(page.locator(".when")).to_have_text("Until 31 December 2026")
    expect(page.locator(".offer-price")).to_have_text(["€71.96", "€75.96"])
    page.locator(".card-link").first.click()  # a covered product opens its own page
    expect(page.get_by_role("heading", level=1)).to_have_text("Black Chelsea boot")


def test_a_members_offer_says_so_plainly_and_names_its_store(hq: Hq, browser: Browser) -> None:
    page = _phone(browser, "en").new_page()
    page.goto(f"{hq.url}/o/TOTE-CLUB?store=madrid-centro")
    expect(page.locator(".members")).to_have_text("For loyalty card members only")
    expect(page.locator(".place")).to_have_text("Madrid Centro")
    expect(page.locator(".deal")).to_have_text("Now €99.00")
    expect(page.locator(".when")).to_have_text("Until 24 December 2026, 20:00")
    expect(page.locator(".offer-price")).to_have_text(["€99.00"])
    expect(page.locator("s.usual")).to_have_text(["€119.00"])
    _fits_a_phone(page)


def test_an_ended_offer_says_when_it_ended_and_prices_nothing(hq: Hq, browser: Browser, tmp_path: Path) -> None:
    page = _phone(browser, "es").new_page()
    answer = page.goto(f"{hq.url}/o/SUMMER-SANDALS")
    assert answer is not None and answer.status == 410
    expect(page.locator(".state-note")).to_have_text("Esta oferta terminó el 31 de agosto de 2026.")
    expect(page.locator(".card")).to_have_count(0)
    expect(page.locator(".deal")).to_have_count(0)
    expect(page.locator(".terms")).to_have_count(0)
    _fits_a_phone(page)
    _screenshot(page, "phone-offer-ended.png", tmp_path)
    page.get_by_role("link", name="Read this page in English").click()
    expect(page.locator(".state-note")).to_have_text("This offer ended on 31 August 2026.")


def test_a_scheduled_offer_says_when_it_starts(hq: Hq, browser: Browser) -> None:
    page = _phone(browser, "en").new_page()
    answer = page.goto(f"{hq.url}/o/KNIT-WEEK")
    assert answer is not None and answer.status == 200
    expect(page.locator(".state-note")).to_have_text("This offer starts on 15 December 2026, 09:00.")
    expect(page.locator(".where")).to_have_text("At Barcelona Diagonal")
    expect(page.locator(".card")).to_have_count(0)  # no price before it starts


@pytest.mark.parametrize(("path", "language", "heading"), [
    ("/o/NO-SUCH-OFFER", "es", "No encontramos esta oferta"),
    ("/o/winter-boots", "en", "We can't find this offer"),  # ids are upper case: malformed
    ("/o/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "en", "We can't find this offer"),
])
def test_an_unknown_or_malformed_offer_is_a_404_in_the_same_style(hq: Hq, browser: Browser, path: str,
                                                                   language: str, heading: str) -> None:
    page = _phone(browser, language).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    answer = page.goto(hq.url + path)
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator(".switch")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert dialogs == []  # the id is shown as text, never run
    _fits_a_phone(page)
