"""The phone hand-off with real parts: a real kiosk runtime asks over a real Mosquitto,
HQ's responder signs the link, HQ's ingest has stored the visit's taps, and the link
opens in a headless Chromium at a phone's size (Playwright with Debian's chromium): the
visit's taps, the wishlist changed on the phone and read back through the API, the
second phone refused, expired and forged links on their pages, a cross-site form refused.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/phone-*.png from this run.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from hq import (
    ApiKeys,
    ApiServer,
    CatalogFile,
    HandoffKey,
    HandoffSigner,
    IngestWorker,
    PhonePages,
    ProfileResponder,
    ProfileStore,
    create_app,
)
from kiosk_app import KioskConfig, KioskRuntime, OutcomeKind
from kiosk_app.demo import demo_catalog, free_port
from kiosk_protocol import ConsentStatus, Role, issue_token
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
KEYS = {"web": "web-key-0123456789abcdef"}
STORE, KIOSK, SHOPPER = "madrid-centro", "kiosk-01", "shopper-0042"
BOOT, TOTE, BEANIE = "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN", "ACC-BEANIE-MUS"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
expect.set_options(timeout=20_000)


class Clock:
    """HQ's wall clock, moved by the test instead of waiting ten minutes."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Hq:
    url: str
    store: ProfileStore
    pages: PhonePages
    responder: ProfileResponder
    clock: Clock
    api: httpx.Client

    def wishlist(self) -> list[str]:
        answer = self.api.get(f"/v1/shoppers/{SHOPPER}")
        return list(answer.json()["wishlist"]) if answer.status_code == 200 else []


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path],
       tmp_path: Path) -> Iterator[Hq]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clock, store = Clock(), ProfileStore(sqlite_url)
    verify = card_verifier(hq_key[0].public_key())
    key = HandoffKey.from_file(tmp_path / "handoff.key")
    pages = PhonePages(store, CatalogFile(demo_catalog(tmp_path / "hq", url)), key, public_url=url, clock=clock)
    worker = IngestWorker(mosquitto.url, store, verify_card=verify)
    responder = ProfileResponder(mosquitto.url, store, verify, handoff=HandoffSigner(key, url, verify, clock=clock))
    server = ApiServer(create_app(store, ApiKeys(KEYS), phone=pages), port=port)
    for part in (worker, responder, server):
        part.start()
    assert worker.subscribed.wait(10) and responder.subscribed.wait(10)
    with httpx.Client(base_url=url, headers={"X-Api-Key": KEYS["web"]}) as api:
        yield Hq(url, store, pages, responder, clock, api)
    server.stop()
    responder.stop()
    worker.stop()
    store.close()


@pytest.fixture
def kiosk(hq: Hq, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path],
          tmp_path: Path) -> Iterator[KioskRuntime]:
    """A real kiosk runtime on HQ's catalog (its shop address is HQ's phone pages), link up, no reader."""
    config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog(tmp_path / "kiosk-catalog", hq.url),
                         reader="udp:127.0.0.1:9", broker=mosquitto.url, data_dir=tmp_path / "kiosk",
                         hq_public_key=hq_key[1])
    runtime = KioskRuntime(config, on_outcome=lambda outcome: None)
    runtime.link.start()
    assert eventually(lambda: runtime.link.connected, 10)
    yield runtime
    runtime.link.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _phone(browser: Browser, language: str, javascript: bool = True) -> BrowserContext:
    return browser.new_context(**PHONE, locale={"es": "es-ES", "en": "en-GB"}[language],  # type: ignore[arg-type]
                               java_script_enabled=javascript)


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / name
    page.screenshot(path=str(target), full_page=True)
    return target


def _tap(runtime: KioskRuntime, hq: Hq, *skus: str) -> None:
    """Products tapped at the kiosk, and stored at HQ."""
    for sku in skus:
        outcome = runtime.kiosk.handle(TagRead(TagKind.PRODUCT, "04a1b2c3", sku=sku))
        assert outcome.kind is OutcomeKind.PRODUCT and outcome.event_id is not None
        event_id = str(outcome.event_id)
        assert eventually(lambda event_id=event_id: hq.store.has_event(event_id), 15)


def _handoff_link(runtime: KioskRuntime) -> str:
    """The link the kiosk's QR code would show, once HQ has signed it."""
    arrived: list[str] = []
    held = runtime.handoff_link(arrived.append)
    assert held is None or arrived == []
    assert eventually(lambda: bool(arrived), 15), "HQ signed no hand-off link"
    assert runtime.handoff_link(lambda url: None) == arrived[0]  # held for the visit: no second request
    return arrived[0]


def _sign_in(runtime: KioskRuntime, hq: Hq, key: Ed25519PrivateKey) -> None:
    outcome = runtime.kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(key, SHOPPER,
                                                                                           Role.SHOPPER, 600)))
    assert outcome.kind is OutcomeKind.SIGNED_IN
    runtime.consent(True)
    assert eventually(lambda: hq.store.profile(SHOPPER, history_limit=0).consent is ConsentStatus.GRANTED, 15)


def _fits_a_phone(page: Page) -> None:
    """Nothing wider than the screen, the style sheet applied, and every control at least 48 px high."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # phone.css, allowed by the CSP
    for control in page.locator("a.switch, .button, .card-link").all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 48, control.inner_text()


def test_the_product_page_on_a_phone_in_both_languages(hq: Hq, browser: Browser, tmp_path: Path) -> None:
    page = _phone(browser, "es").new_page()
    answer = page.goto(f"{hq.url}/p/{BOOT}?store={STORE}")
    assert answer is not None and answer.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Botín Chelsea negro")
    expect(page.locator(".price")).to_have_text("89,95\u00a0€")
    expect(page.locator(".size")).to_have_count(5)
    expect(page.locator(".size.sold-out")).to_have_text(["39 Agotada"])
    expect(page.locator(".place")).to_have_text("Madrid Centro")
    assert page.locator(".photo img").evaluate("image => image.naturalWidth") > 0  # served by HQ, not a CDN
    _fits_a_phone(page)
    _screenshot(page, "phone-product.png", tmp_path)
    page.get_by_role("link", name="Read this page in English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Black Chelsea boot")
    expect(page.locator(".price")).to_have_text("€89.95")
    expect(page.locator(".size").first).to_have_text("38 2 left")
    page.goto(f"{hq.url}/p/NO-SUCH-SKU")
    expect(page.get_by_role("heading", level=1)).to_have_text("No encontramos este producto")


def test_an_anonymous_visit_opens_on_one_phone_only_and_names_nobody(
        hq: Hq, kiosk: KioskRuntime, browser: Browser, tmp_path: Path) -> None:
    _tap(kiosk, hq, BOOT, TOTE)
    link = _handoff_link(kiosk)
    assert link.startswith(f"{hq.url}/h/")
    page = _phone(browser, "es").new_page()
    answer = page.goto(link)
    assert answer is not None and answer.status == 200 and page.url == f"{hq.url}/phone/visit?lang=es"
    expect(page.locator(".taps .card")).to_have_count(2)
    expect(page.locator(".taps .card-name")).to_have_text(["Bolso shopper de piel marrón", "Botín Chelsea negro"])
    expect(page.locator(".who")).to_contain_text("acerca tu tarjeta de cliente")
    expect(page.locator("form.wish")).to_have_count(0)
    page.reload()  # refreshing keeps working on this phone
    expect(page.locator(".taps .card")).to_have_count(2)
    page.locator(".taps .card-link").first.click()  # a tap's product, at this store's prices
    expect(page.get_by_role("heading", level=1)).to_have_text("Bolso shopper de piel marrón")
    expect(page.locator(".size-stock")).to_have_text("Quedan 2")
    other = _phone(browser, "en").new_page()
    refused = other.goto(link)
    assert refused is not None and refused.status == 410
    expect(other.get_by_role("heading", level=1)).to_have_text("This link has already been opened")
    expect(other.locator(".taps")).to_have_count(0)
    assert (hq.pages.stats.links_opened, hq.pages.stats.links_used, hq.responder.stats.links_signed) == (1, 1, 1)


def test_a_signed_in_shopper_changes_their_wishlist_on_the_phone(
        hq: Hq, kiosk: KioskRuntime, hq_key: tuple[Ed25519PrivateKey, Path], browser: Browser,
        tmp_path: Path) -> None:
    _sign_in(kiosk, hq, hq_key[0])
    _tap(kiosk, hq, BOOT, BEANIE, TOTE)
    assert kiosk.set_wishlist(BEANIE, True)  # on the kiosk: already on the list when the phone opens
    assert eventually(lambda: hq.wishlist() == [BEANIE], 15)
    page = _phone(browser, "en").new_page()
    page.goto(_handoff_link(kiosk))
    expect(page.locator(".who")).to_have_text("With your loyalty card")
    expect(page.locator(".wishlist .card-name")).to_have_text(["Mustard knit beanie"])
    boot = page.locator(f".taps .card[data-sku='{BOOT}']")
    boot.get_by_role("button", name="Add to my wishlist").click()
    expect(page.locator(".done")).to_have_text("Black Chelsea boot: added to your wishlist.")
    expect(boot.get_by_role("button")).to_have_text("Remove from my wishlist")
    assert eventually(lambda: hq.wishlist() == [BEANIE, BOOT], 5)
    history = hq.api.get(f"/v1/shoppers/{SHOPPER}").json()["history"]
    assert [(e["kind"], e["channel"], e["sku"]) for e in history if e["channel"] == "phone"] == [
        ("wishlist_add", "phone", BOOT)]
    _fits_a_phone(page)
    _screenshot(page, "phone-visit.png", tmp_path)
    page.locator(f".wishlist .card[data-sku='{BEANIE}']").get_by_role("button").click()
    expect(page.locator(".done")).to_have_text("Mustard knit beanie: removed from your wishlist.")
    expect(page.locator(".wishlist .card")).to_have_count(1)
    assert eventually(lambda: hq.wishlist() == [BOOT], 5)
    # The same without a script: the form posts and HQ answers with the visit page.
    session, card = kiosk.kiosk.session.id, kiosk.kiosk.session.card_token
    again = kiosk.link.request_handoff(session, SHOPPER, card)
    assert again is not None and again.url is not None
    plain = _phone(browser, "es", javascript=False).new_page()
    plain.goto(again.url)
    plain.locator(f".taps .card[data-sku='{TOTE}']").get_by_role("button", name="Añadir a mi lista").click()
    expect(plain.locator(".done")).to_have_text("Bolso shopper de piel marrón: añadido a tu lista de deseos.")
    assert plain.url.endswith(f"/phone/visit?lang=es&done=added&sku={TOTE}")
    assert eventually(lambda: hq.wishlist() == [BOOT, TOTE], 5)


def test_expired_and_forged_links_get_their_pages_and_change_nothing(
        hq: Hq, kiosk: KioskRuntime, browser: Browser, tmp_path: Path) -> None:
    _tap(kiosk, hq, BOOT)
    link = _handoff_link(kiosk)
    hq.clock.offset = 10 * 60 + 1  # the link's ten minutes are over
    page = _phone(browser, "es").new_page()
    answer = page.goto(link)
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("Este enlace ha caducado")
    expect(page.locator(".message p")).to_contain_text("valen 10 minutos")
    _fits_a_phone(page)
    _screenshot(page, "phone-link-expired.png", tmp_path)
    hq.clock.offset = 0
    token = link.rsplit("/", 1)[1]
    for tampered in (token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), token[:20] + token[21:]):
        answer = page.goto(f"{hq.url}/h/{tampered}")
        assert answer is not None and answer.status in (400, 403)
        expect(page.get_by_role("heading", level=1)).to_have_text("Este enlace no es válido")
    assert page.context.cookies() == []
    stats = hq.pages.stats
    assert (stats.links_expired, stats.links_forged + stats.links_malformed, stats.links_opened) == (1, 2, 0)
    answer = page.goto(link)  # the real link, within its time, is still whole
    assert answer is not None and answer.status == 200


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Another site's page (same host, another port) with a form aimed at HQ's wishlist."""

    target = ""

    def do_GET(self) -> None:
        body = (f'<!doctype html><form method="post" action="{self.target}">'
                f'<input type="hidden" name="sku" value="{BOOT}"><input type="hidden" name="action" value="add">'
                '<input type="hidden" name="form_token" value="guessed"><button>Win a prize</button></form>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[str, Callable[[], None]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}/", stop


def test_a_form_posted_from_another_site_is_refused(
        hq: Hq, kiosk: KioskRuntime, hq_key: tuple[Ed25519PrivateKey, Path], browser: Browser) -> None:
    _sign_in(kiosk, hq, hq_key[0])
    _tap(kiosk, hq, BOOT)
    page = _phone(browser, "en").new_page()
    page.goto(_handoff_link(kiosk))
    expect(page.locator("form.wish")).to_have_count(1)
    _Attacker.target = f"{hq.url}/phone/wishlist"
    attacker, stop = _serve(_Attacker)
    try:
        page.goto(attacker)  # same host, so the browser even sends the phone's cookie along
        page.get_by_role("button", name="Win a prize").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("That did not work")
    finally:
        stop()
    assert hq.wishlist() == [] and hq.pages.stats.forms_refused == 1
    page.goto(f"{hq.url}/phone/visit")  # the phone's own page still works
    page.get_by_role("button", name="Add to my wishlist").click()
    expect(page.locator(".done")).to_have_text("Black Chelsea boot: added to your wishlist.")
    assert eventually(lambda: hq.wishlist() == [BOOT], 5)


def test_a_visit_no_kiosk_tapped_yet_says_so(hq: Hq, kiosk: KioskRuntime, browser: Browser) -> None:
    page = _phone(browser, "en").new_page()
    page.goto(_handoff_link(kiosk))
    expect(page.locator(".taps .empty")).to_have_text("You have not tapped a product on the kiosk in this visit yet.")
