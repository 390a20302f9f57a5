"""The offer page a sign tag's URI opens (``/o/<offer-id>``), served by HQ's app on uvicorn
and opened in a headless Chromium at a phone's size (Playwright with Debian's chromium):
a running offer's products at their price after it with the usual one struck through,
in both languages; an ended and a scheduled offer on their own clear pages; an unknown
or malformed id a 404 page in the same style; a members' offer saved to the card of the
shopper whose visit the phone continues, read back through the coupon API, and a save
from another site or by a shopper who is no member refused.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/phone-offer*.png from this run.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, CatalogFile, HandoffKey, HandoffSigner, PhonePages, ProfileStore, create_app
from hq._store import CardVisit
from kiosk_app.demo import demo_catalog, free_port
from kiosk_protocol import ConsentStatus, EventKind, HandoffRequest, Hlc, Offer, new_event
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # HQ's clock for the pages' words
KEYS = {"web": "web-key-0123456789abcdef"}
STORE, KIOSK, MEMBER, GUEST = "madrid-centro", "kiosk-01", "shopper-0042", "shopper-0077"
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
    pages: PhonePages
    signer: HandoffSigner
    server: ApiServer

    def link(self, shopper: str, member: bool) -> str:
        """The hand-off link of a visit at the kiosk in which ``shopper`` consented (HQ checked their card
        when ``member``), as HQ signs it for the kiosk's QR code."""
        session = uuid.uuid4()
        self.store.record_many([new_event(kind=EventKind.CONSENT, store=STORE, kiosk=KIOSK, seq=1, session=session,
                                          shopper=shopper, consent=ConsentStatus.GRANTED,
                                          hlc=str(Hlc(1, 0, KIOSK)))],
                               [CardVisit(str(session), STORE, KIOSK, shopper)] if member else [])
        answer = self.signer.answer(STORE, KIOSK, HandoffRequest(request_id=uuid.uuid4(), session=session,
                                                                 shopper=shopper, token=f"card-of-{shopper}"))
        assert answer.url is not None, answer.error
        return answer.url


def _hq(url_of_db: str, tmp_path: Path, clock: Callable[[], float], offers: list[Offer]) -> Hq:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = ProfileStore(url_of_db)
    store.offers.merge(offers)
    key = HandoffKey.from_file(tmp_path / "handoff.key")
    pages = PhonePages(store, CatalogFile(demo_catalog(tmp_path / "hq", url)), key, public_url=url,
                       clock=clock)
    signer = HandoffSigner(key, url, lambda token: token.removeprefix("card-of-"), clock=clock)
    server = ApiServer(create_app(store, ApiKeys(KEYS), phone=pages), port=port)
    server.start()
    return Hq(url, store, pages, signer, server)


@pytest.fixture
def hq(sqlite_url: str, tmp_path: Path) -> Iterator[Hq]:
    made = _hq(sqlite_url, tmp_path, NOW.timestamp, [Offer.model_validate(offer) for offer in OFFERS])
    yield made
    made.server.stop()
    made.store.close()


@pytest.fixture
def hq_now(sqlite_url: str, tmp_path: Path) -> Iterator[Hq]:
    """HQ on the wall clock, with a members' offer running around now (a save is checked at its own time)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    club = Offer.model_validate({**OFFERS[1], "starts": (now - timedelta(days=1)).isoformat(),
                                 "ends": (now + timedelta(days=6)).isoformat()})
    made = _hq(sqlite_url, tmp_path, time.time, [club])
    yield made
    made.server.stop()
    made.store.close()


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


def _coupons(hq: Hq, shopper: str) -> list[tuple[str, str]]:
    answer = httpx.get(f"{hq.url}/v1/shoppers/{shopper}/coupons", headers={"X-Api-Key": KEYS["web"]})
    return [(c["offer"], c["channel"]) for c in answer.json()["coupons"]] if answer.status_code == 200 else []


def test_a_member_saves_a_members_offer_to_their_card_from_the_phone(hq_now: Hq, browser: Browser,
                                                                     tmp_path: Path) -> None:
    hq = hq_now
    page = _phone(browser, "es").new_page()
    page.goto(hq.link(MEMBER, member=True))  # the visit continued on this phone: its session cookie
    page.goto(f"{hq.url}/o/TOTE-CLUB?store={STORE}")
    expect(page.locator(".members")).to_have_text("Solo para clientes con tarjeta de fidelidad")
    page.get_by_role("button", name="Guardar en mi tarjeta").click()
    expect(page.locator(".coupon-saved")).to_have_text("Guardada en tu tarjeta: úsala en tienda o en la web.")
    expect(page.get_by_role("button", name="Guardar en mi tarjeta")).to_have_count(0)
    assert page.url == f"{hq.url}/o/TOTE-CLUB?lang=es"
    assert _coupons(hq, MEMBER) == [("TOTE-CLUB", "phone")]  # the same coupon every channel reads
    assert hq.pages.stats.coupons_saved == 1
    _fits_a_phone(page)
    _screenshot(page, "phone-offer-saved.png", tmp_path)
    page.go_back()  # the page with the button again: a second save changes nothing
    page.reload()
    expect(page.locator(".coupon-saved")).to_be_visible()
    assert _coupons(hq, MEMBER) == [("TOTE-CLUB", "phone")]


def test_a_save_from_another_site_or_by_no_member_is_refused(hq_now: Hq, browser: Browser) -> None:
    hq = hq_now
    member = _phone(browser, "en")
    page = member.new_page()
    page.goto(hq.link(MEMBER, member=True))
    page.goto(f"{hq.url}/o/TOTE-CLUB")
    token = page.locator("form.coupon input[name=form_token]").get_attribute("value")
    assert token
    # Another site's page posting the shopper's form, their cookie riding along.
    forged = member.request.post(f"{hq.url}/phone/coupons", headers={"Origin": "http://evil.example"},
                                 form={"offer": "TOTE-CLUB", "form_token": token, "lang": "en"})
    assert forged.status == 403 and "That did not work" in forged.text()
    wrong = member.request.post(f"{hq.url}/phone/coupons", headers={"Origin": hq.url},
                                form={"offer": "TOTE-CLUB", "form_token": token[::-1], "lang": "en"})
    assert wrong.status == 403 and _coupons(hq, MEMBER) == [] and hq.pages.stats.forms_refused == 2
    # A shopper whose card HQ never checked is no member: told how to become one, and refused a save.
    guest = _phone(browser, "en")
    other = guest.new_page()
    other.goto(hq.link(GUEST, member=False))
    other.goto(f"{hq.url}/o/TOTE-CLUB")
    expect(other.locator(".coupon-hint")).to_have_text(
        "To save it to your card, tap your loyalty card on the kiosk and scan its code.")
    expect(other.locator("form.coupon")).to_have_count(0)
    assert hq.pages.sessions is not None
    guest_token = hq.pages.sessions.visit(next(c["value"] for c in guest.cookies() if c["name"] == "kiosk_visit"))
    assert guest_token is not None
    refused = guest.request.post(f"{hq.url}/phone/coupons", headers={"Origin": hq.url},
                                 form={"offer": "TOTE-CLUB", "form_token": guest_token.form_token, "lang": "en"})
    assert refused.status == 400 and _coupons(hq, GUEST) == []
    # Without a visit on the phone at all: the hint, no button.
    nobody = _phone(browser, "en")
    anonymous = nobody.new_page()
    anonymous.goto(f"{hq.url}/o/TOTE-CLUB")
    expect(anonymous.locator(".coupon-hint")).to_be_visible()
    expect(anonymous.locator("form.coupon")).to_have_count(0)
    stolen = nobody.request.post(f"{hq.url}/phone/coupons", headers={"Origin": hq.url},  # a token, no session
                                 form={"offer": "TOTE-CLUB", "form_token": token, "lang": "en"})
    assert stolen.status == 403 and hq.pages.stats.forms_refused == 3 and _coupons(hq, MEMBER) == []
