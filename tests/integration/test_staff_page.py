"""The store staff page in a real headless Chromium at a phone's size (Playwright with
Debian's chromium), served by HQ's app on uvicorn over SQLite: sign in with the store's
key (or, on a phone that reads NFC, the staff badge itself), see a request appear live when
a channel makes one through the API, take it, mark it ready with a note, cancel another;
another store's key refused; signing out revokes.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/staff-*.png from this run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, CatalogFile, Grant, KeyRole, ProfileStore, StaffPage, StaffSessions, create_app
from hq._staff_sessions import STAFF_COOKIE
from kiosk_app.demo import demo_catalog, free_port
from kiosk_protocol import Role, issue_token, load_catalog
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
KEYS = {"web": "web-key-0123456789abcdef", "madrid-staff": "madrid-key-0123456789abcdef",
        "bcn-staff": "bcn-key-0123456789abcdef"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro"),
          "bcn-staff": Grant(KeyRole.STORE, "barcelona-diagonal")}
STORE = "madrid-centro"
BOOT, TOTE, COAT = "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN", "COAT-WOOL-GRY"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
expect.set_options(timeout=20_000)


@dataclass
class Hq:
    url: str
    store: ProfileStore
    staff: StaffPage
    web: httpx.Client

    def hold(self, sku: str, size: str, kind: str = "fitting_room", **body: object) -> str:
        answer = self.web.post(f"/v1/stores/{STORE}/reservations", json={"sku": sku, "size": size, "kind": kind,
                                                                         **body})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def reservation(self, reservation: str) -> dict[str, Any]:
        answer = self.web.get(f"/v1/stores/{STORE}/reservations/{reservation}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def free(self, sku: str, size: str) -> int:
        rows = self.web.get(f"/v1/stores/{STORE}/stock", params={"sku": sku}).json()["stock"]
        return int(next(row["available"] for row in rows if row["size"] == size))


@pytest.fixture
def hq(sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> Iterator[Hq]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    store = ProfileStore(sqlite_url)
    catalog = CatalogFile(demo_catalog(tmp_path / "hq", url))
    store.stock.load_catalog(load_catalog(catalog.path))
    keys = ApiKeys(KEYS, grants=GRANTS)
    staff = StaffPage(store, StaffSessions(keys, hq_key[0].public_key()), catalog, poll_s=0.5)
    server = ApiServer(create_app(store, keys, staff=staff), port=port)
    server.start()
    with httpx.Client(base_url=url, headers={"X-Api-Key": KEYS["web"]}, timeout=30) as web:
        yield Hq(url, store, staff, web)
    staff.close()  # ends the open streams, so the server stops at once
    server.stop()
    store.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _phone(browser: Browser, language: str) -> Page:
    context = browser.new_context(**PHONE, locale={"es": "es-ES", "en": "en-GB"}[language])  # type: ignore[arg-type]
    return context.new_page()


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / name
    page.screenshot(path=str(target), full_page=True)
    return target


def _fits_a_phone(page: Page) -> None:
    """Nothing wider than the screen, the style sheet applied (the CSP allows it), every control 56 px high
    or more and its text at least 16 px: big enough for a thumb, readable at arm's length."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    for control in page.locator(".button:visible, input:visible, select:visible").all():
        box = control.bounding_box()
        assert box is not None and box["height"] >= 56, control.inner_text()
        assert float(control.evaluate("c => parseFloat(getComputedStyle(c).fontSize)")) >= 16
    for text in page.locator(".product:visible, .size:visible, .chip:visible, .waiting:visible").all():
        assert float(text.evaluate("t => parseFloat(getComputedStyle(t).fontSize)")) >= 16


def _sign_in(page: Page, credential: str, label: str = "Store key or badge code") -> None:
    page.get_by_label(label).fill(credential)
    page.locator("#signin-form button[type=submit]").click()


def test_staff_see_requests_live_and_take_ready_and_cancel_them(hq: Hq, browser: Browser, tmp_path: Path) -> None:
    page = _phone(browser, "en")
    page.goto(f"{hq.url}/staff/?store={STORE}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Store", exact=True)).to_have_value(STORE)  # the store's own link names it
    _fits_a_phone(page)
    _screenshot(page, "staff-signin.png", tmp_path)

    _sign_in(page, "not-a-key-of-anyone-0123456789")
    expect(page.locator("#signin-error")).to_have_text("That key or badge does not open this page.")
    _sign_in(page, KEYS["bcn-staff"])  # Barcelona's key on Madrid's page
    expect(page.locator("#signin-error")).to_have_text("That key or badge is another store's.")
    _sign_in(page, KEYS["web"])  # a sales channel's key is no store's
    expect(page.locator("#signin-error")).to_have_text("That key or badge does not open this page.")
    assert hq.staff.stats.sign_ins_refused == 3
    _sign_in(page, KEYS["madrid-staff"])
    expect(page.locator("#place")).to_have_text("Madrid Centro")
    expect(page.locator("#live")).to_have_text("Live")
    expect(page.locator("#empty")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    # A request made through the API appears on its own, oldest first, then another.
    boot = hq.hold(BOOT, "41")
    card = page.locator(f"li.request[data-id='{boot}']")
    expect(card).to_be_visible()
    expect(card.locator(".product")).to_have_text("Black Chelsea boot")
    expect(card.locator(".size")).to_have_text("Size 41")
    expect(card.locator(".chip")).to_have_text(["Waiting", "To a fitting room", "Asked online"])
    expect(card.locator(".waiting")).to_have_text("Just now")
    assert card.locator("img").evaluate("image => image.naturalWidth") > 0  # the catalog's photo, from HQ
    tote = hq.hold(TOTE, "U", kind="collect")
    coat = hq.hold(COAT, "M")
    expect(page.locator("li.request")).to_have_count(3)
    expect(page.locator("li.request .product")).to_have_text(["Black Chelsea boot", "Brown leather tote bag",
                                                             "Grey wool coat"])
    expect(page.locator("#count")).to_have_text("3 open requests")
    assert hq.free(BOOT, "41") == 0

    colleague = _phone(browser, "en")  # a second assistant's phone, signed in too, sees every move live
    colleague.goto(f"{hq.url}/staff/")
    _sign_in(colleague, KEYS["madrid-staff"])
    expect(colleague.locator("li.request")).to_have_count(3)

    card.get_by_role("button", name="Take it: Black Chelsea boot, Size 41").click()
    expect(card).to_have_attribute("data-state", "taken")
    expect(colleague.locator(f"li.request[data-id='{boot}'] .chip.state")).to_have_text("On it")
    expect(card.locator(".chip.state")).to_have_text("On it")
    expect(page.locator(".toast").last).to_have_text("Black Chelsea boot: you are on it.")
    assert hq.reservation(boot)["state"] == "taken"
    assert hq.reservation(boot)["channel"] == "web"  # who made it; who moved it is in the change log

    card.get_by_label("Where it is (optional)").fill("Fitting room 2")
    card.get_by_role("button", name="Ready: Black Chelsea boot, Size 41").click()
    expect(card.locator(".chip.state")).to_have_text("Ready")
    expect(card.locator(".ready-note")).to_have_text("Fitting room 2")
    assert (hq.reservation(boot)["state"], hq.reservation(boot)["note"]) == ("ready", "Fitting room 2")

    coat_card = page.locator(f"li.request[data-id='{coat}']")
    coat_card.get_by_role("button", name="Take it: Grey wool coat, Size M").click()
    expect(coat_card.locator(".chip.state")).to_have_text("On it")
    expect(page.get_by_role("button", name="Ready: Grey wool coat, Size M")).to_be_visible()
    expect(page.locator(f"li.request[data-id='{tote}'] .button")).to_have_text(["Take it", "Cancel"])
    _fits_a_phone(page)
    expect(page.locator(".toast")).to_have_count(0)  # the last one has gone: the list is all there is
    _screenshot(page, "staff-requests.png", tmp_path)

    tote_card = page.locator(f"li.request[data-id='{tote}']")
    cancel = tote_card.get_by_role("button", name="Cancel: Brown leather tote bag, One size")
    cancel.click()  # one tap only asks
    expect(cancel).to_have_text("Tap again to cancel")
    assert hq.reservation(tote)["state"] == "held"
    cancel.click()
    expect(tote_card).to_have_count(0)
    expect(page.locator("li.request")).to_have_count(2)
    expect(colleague.locator("li.request")).to_have_count(2)
    assert hq.reservation(tote)["state"] == "cancelled"
    assert hq.free(TOTE, "U") == load_catalog(hq.staff.catalog.path).product(TOTE).stock_in(STORE)["U"]  # type: ignore[union-attr]
    assert hq.staff.stats.moves == 4
    assert hq.web.delete(f"/v1/stores/{STORE}/reservations/{coat}").status_code == 200  # cancelled at the till
    expect(coat_card).to_have_count(0)
    expect(colleague.locator("li.request")).to_have_count(1)
    assert page.evaluate("window.sameDocument") is True

    # Signing out ends the session at HQ: the cookie it had is refused even if replayed.
    (cookie,) = [c for c in page.context.cookies() if c["name"] == STAFF_COOKIE]
    assert cookie["path"] == "/staff" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    replayed = httpx.get(f"{hq.url}/staff/api/{STORE}/requests", cookies={STAFF_COOKIE: cookie["value"]})
    assert replayed.status_code == 401 and replayed.json()["error"] == "unauthorized"


def test_the_page_speaks_spanish_to_a_spanish_phone(hq: Hq, browser: Browser) -> None:
    hq.hold(BOOT, "40")
    hq.staff.alert_minutes = 0  # every request nobody has taken is late at once
    page = _phone(browser, "es")
    page.goto(f"{hq.url}/staff/")
    expect(page.get_by_role("heading", name="Entrar")).to_be_visible()
    _sign_in(page, KEYS["madrid-staff"], "Clave de la tienda o código de la tarjeta")
    card = page.locator("li.request")
    expect(card.locator(".product")).to_have_text("Botín Chelsea negro")
    expect(card.locator(".chip")).to_have_text(["Sin atender", "Al probador", "Pedida en línea"])
    expect(card.get_by_role("button", name="Me encargo: Botín Chelsea negro, Talla 40")).to_be_visible()
    expect(page.locator("#count")).to_have_text("1 petición abierta")
    expect(card).to_have_class("request late")  # marked, in words and colour: "⚠ Ahora mismo" in red
    assert card.locator(".waiting").evaluate("w => getComputedStyle(w).color") == "rgb(179, 38, 30)"
    page.get_by_role("link", name="Ver esta página en inglés").click()
    expect(page.locator("li.request .chip.state")).to_have_text("Waiting")  # still signed in


# Headless Chromium has no NFC: the page's one seam to it, Web NFC's NDEFReader, is played by
# the test, which hands it the records a tag would carry (the badge's as `kiosk nfc write` puts them).
NFC_SEAM = """
window.NDEFReader = class extends EventTarget {
  async scan() {
    window.__heldToThePhone = (type, text) => {
      const data = new DataView(new TextEncoder().encode(text).buffer);
      const reading = Object.assign(new Event("reading"),
                                    { message: { records: [{ recordType: "mime", mediaType: type, data }] } });
      this.dispatchEvent(reading);
    };
  }
};
"""


def test_a_phone_that_reads_nfc_signs_in_with_the_badge_itself(
        hq: Hq, browser: Browser, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    page = _phone(browser, "en")
    page.add_init_script(NFC_SEAM)
    page.goto(f"{hq.url}/staff/?store={STORE}")
    page.get_by_role("button", name="Sign in with my staff badge").click()
    expect(page.locator("#badge-hint")).to_have_text("Hold your staff badge to the back of the phone.")
    _fits_a_phone(page)
    card = issue_token(hq_key[0], "shopper-0042", Role.SHOPPER, 600)
    page.evaluate("([type, text]) => window.__heldToThePhone(type, text)", ["application/vnd.nfckiosk.card", card])
    expect(page.locator("#signin-error")).to_have_text("That is not a staff badge. Hold yours to the phone.")
    badge = issue_token(hq_key[0], "staff-0007", Role.STAFF, 3600, store=STORE)
    page.evaluate("([type, text]) => window.__heldToThePhone(type, text)", ["application/vnd.nfckiosk.badge", badge])
    expect(page.locator("#place")).to_have_text("Madrid Centro")
    expect(page.locator("#live")).to_have_text("Live")
    assert page.request.get(f"{hq.url}/staff/api/session").json()["by"] == "badge-staff-0007"
