"""The phone pages over HTTP, in HQ's real app on SQLite (and PostgreSQL where two phones
race): product pages in both languages with a store's prices and stock, hand-off links
taken once and refused when expired, used, forged or tampered with (changing nothing),
wishlist changes stored like the API's, and forms from anywhere but the phone's own page
refused."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from hq import (
    ApiKeys,
    CatalogFile,
    CredentialsError,
    HandoffKey,
    HandoffSigner,
    PhonePages,
    ProfileStore,
    create_app,
)
from hq._phone_pages import VISIT_COOKIE
from hq._phone_sessions import phone_sessions
from kiosk_app.demo import demo_catalog
from kiosk_protocol import ConsentStatus, EventKind, HandoffRequest, Hlc, dump_catalog, load_catalog, new_event

KEYS = {"web": "web-key-0123456789abcdef"}
WEB = {"X-Api-Key": KEYS["web"]}
STORE, OTHER_STORE, KIOSK, SHOPPER = "madrid-centro", "barcelona-diagonal", "kiosk-01", "shopper-0042"
BOOT, TOTE = "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"
ORIGIN = {"Origin": "http://testserver"}
CARD = "card-of-" + SHOPPER


class Clock:
    """A wall clock the test moves (seconds since the epoch)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    store: ProfileStore
    pages: PhonePages
    signer: HandoffSigner
    clock: Clock
    app: object
    catalog_file: Path

    def phone(self, https: bool = False) -> TestClient:
        """A phone's browser: its own cookies."""
        return TestClient(self.app, base_url="https://testserver" if https else "http://testserver")  # type: ignore[arg-type]

    def link(self, session: uuid.UUID, shopper: str | None = None) -> str:
        """The path of a link HQ signs for a visit at the kiosk (as the responder would)."""
        request = HandoffRequest(request_id=uuid.uuid4(), session=session, shopper=shopper,
                                 token=CARD if shopper else None)
        answer = self.signer.answer(STORE, KIOSK, request)
        assert answer.url is not None, answer.error
        return answer.url.removeprefix("http://testserver")

    def taken(self) -> int:
        with self.store.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(phone_sessions)).scalar_one())


def _site(url: str, tmp_path: Path) -> Site:
    catalog_file = demo_catalog(tmp_path, "http://testserver")
    catalog = load_catalog(catalog_file)
    boot = catalog.product(BOOT)
    assert boot is not None
    cheaper = boot.model_copy(update={"prices": {OTHER_STORE: 79.5}})
    catalog_file.write_text(dump_catalog(catalog.model_copy(update={"products": tuple(
        cheaper if p.sku == BOOT else p for p in catalog.products)})))
    store, clock = ProfileStore(url), Clock()
    key = HandoffKey.from_file(tmp_path / "handoff.key")

    def verify(token: str) -> str:
        assert token == CARD
        return SHOPPER

    pages = PhonePages(store, CatalogFile(catalog_file), key, public_url="http://testserver", clock=clock)
    app = create_app(store, ApiKeys(KEYS), phone=pages)
    return Site(store, pages, HandoffSigner(key, "http://testserver", verify, clock=clock), clock, app, catalog_file)


@pytest.fixture
def site(sqlite_url: str, tmp_path: Path) -> Iterator[Site]:
    made = _site(sqlite_url, tmp_path)
    yield made
    made.store.close()


def _visit_at_the_kiosk(store: ProfileStore, skus: list[str], shopper: str | None = None) -> uuid.UUID:
    """A visit's taps as ingest stores them (a consenting shopper's under their profile)."""
    session = uuid.uuid4()
    events = [new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=n, session=session,
                        shopper=shopper, sku=sku) for n, sku in enumerate(skus, 1)]
    if shopper:
        events.insert(0, new_event(kind=EventKind.CONSENT, store=STORE, kiosk=KIOSK, seq=99, session=session,
                                   shopper=shopper, consent=ConsentStatus.GRANTED, hlc=str(Hlc(1, 0, KIOSK))))
    store.record_many(events)
    # Another kiosk's taps in a visit of the same id change nothing here.
    store.record_many([new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk="kiosk-02", seq=1,
                                 session=session, shopper=None, sku="COAT-WOOL-GRY")])
    return session


def _wishlist(site: Site, phone: TestClient) -> list[str]:
    answer = phone.get(f"/v1/shoppers/{SHOPPER}", headers=WEB)
    return list(answer.json()["wishlist"]) if answer.status_code == 200 else []


def _form(phone: TestClient) -> dict[str, str]:
    page = phone.get("/phone/visit?lang=en").text
    marker = 'name="form_token" value="'
    return {"form_token": page.split(marker, 1)[1].split('"', 1)[0], "lang": "en"}


def test_the_product_page_speaks_both_languages_with_the_store_s_prices_and_stock(site: Site) -> None:
    phone = site.phone()
    spanish = phone.get(f"/p/{BOOT}?store={STORE}")
    assert spanish.status_code == 200 and spanish.headers["content-language"] == "es"
    assert "89,95\u00a0€" in spanish.text and "Tallas en Madrid Centro" in spanish.text
    assert "Quedan 2" in spanish.text and "Agotada" in spanish.text and "Queda 1" in spanish.text
    english = phone.get(f"/p/{BOOT}?store={OTHER_STORE}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.headers["content-language"] == "en" and "€79.50" in english.text
    assert "Sizes at Barcelona Diagonal" in english.text
    assert 'href="?store=barcelona-diagonal&amp;lang=es"' in english.text  # the switch keeps the store
    anywhere = phone.get(f"/p/{BOOT}?lang=en&store=no-such-store")
    assert "€89.95" in anywhere.text and "In stock at: Madrid Centro, Barcelona Diagonal" in anywhere.text
    csp = spanish.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert spanish.headers["x-frame-options"] == "DENY" and spanish.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize(("path", "language", "words"), [
    ("/p/NO-SUCH-SKU", "es", "No encontramos este producto"),
    ("/p/NO-SUCH-SKU?lang=en", "en", "We can&#39;t find this product"),
    ("/p/%3Cscript%3E", "en", "&lt;script&gt;"),  # echoed escaped, never as markup
])
def test_an_unknown_product_is_a_clear_404_in_the_shopper_s_language(site: Site, path: str, language: str,
                                                                      words: str) -> None:
    answer = site.phone().get(path, headers={"Accept-Language": language})
    assert answer.status_code == 404 and words in answer.text and "<script>" not in answer.text.split("</head>")[1]


def test_only_the_catalog_s_images_the_style_sheet_and_the_script_are_served(site: Site) -> None:
    phone = site.phone()
    assert phone.get("/phone/images/boot-chelsea-blk.png").headers["content-type"] == "image/png"
    assert phone.get("/phone/static/phone.css").headers["content-type"].startswith("text/css")
    for path in ("/phone/images/..%2Fdemo.json", "/phone/images/placeholder.png", "/phone/static/base.html",
                 "/phone/images/%2e%2e"):
        assert phone.get(path).status_code == 404, path


def test_an_import_that_changes_the_catalog_changes_the_page(site: Site) -> None:
    phone = site.phone()
    assert "89,95" in phone.get(f"/p/{BOOT}?store={STORE}").text
    document = json.loads(site.catalog_file.read_text())
    document["products"][0]["price"] = 99.0
    staged = site.catalog_file.with_suffix(".importing")
    staged.write_text(json.dumps(document))
    staged.replace(site.catalog_file)  # as `kiosk hq catalog import` replaces it
    assert "99,00" in phone.get(f"/p/{BOOT}?store={STORE}").text


def test_a_link_is_taken_once_for_a_session_cookie_and_a_second_phone_is_refused(site: Site) -> None:
    link = site.link(_visit_at_the_kiosk(site.store, [BOOT, TOTE]))
    phone = site.phone()
    opened = phone.get(link + "?lang=en", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "../phone/visit?lang=en"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{VISIT_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Max-Age=7200" in cookie and "Secure" not in cookie
    visit = phone.get("/phone/visit?lang=en")
    assert visit.status_code == 200 and visit.headers["cache-control"] == "no-store"
    assert visit.text.index(TOTE) < visit.text.index(BOOT)  # newest first
    assert "COAT-WOOL-GRY" not in visit.text  # another kiosk's taps are not this visit's
    assert "To keep a wishlist" in visit.text and SHOPPER not in visit.text and "form_token" not in visit.text
    assert phone.get(link).status_code == 200  # the same phone opening it again gets its visit
    second = site.phone().get(link)
    assert second.status_code == 410 and "already been opened" not in second.text  # Spanish: no Accept-Language
    assert "Este enlace ya se ha abierto" in second.text
    assert (site.pages.stats.links_opened, site.pages.stats.links_used, site.taken()) == (1, 1, 1)


def test_over_https_the_cookie_is_secure(site: Site) -> None:
    opened = site.phone(https=True).get(site.link(uuid.uuid4()), follow_redirects=False)
    assert "Secure" in opened.headers["set-cookie"]


def test_an_expired_link_is_refused_and_changes_nothing(site: Site) -> None:
    link = site.link(_visit_at_the_kiosk(site.store, [BOOT]))
    site.clock.now += 10 * 60 + 1
    answer = site.phone().get(link, headers={"Accept-Language": "en"})
    assert answer.status_code == 410 and "This link has expired" in answer.text
    assert VISIT_COOKIE not in answer.headers.get("set-cookie", "")
    assert (site.pages.stats.links_expired, site.taken()) == (1, 0)
    assert site.phone().get(site.link(uuid.uuid4()), follow_redirects=False).status_code == 303  # a new one works


def test_forged_tampered_and_malformed_links_are_refused_and_change_nothing(site: Site) -> None:
    link = site.link(_visit_at_the_kiosk(site.store, [BOOT]))
    token = link.removeprefix("/h/")
    flipped = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]
    other_key = HandoffKey(bytes(32))
    forged = HandoffSigner(other_key, "http://testserver", lambda token: SHOPPER).answer(
        STORE, KIOSK, HandoffRequest(request_id=uuid.uuid4(), session=uuid.uuid4()))
    assert forged.url is not None
    for path, status in ((f"/h/{flipped}", 403), (forged.url.removeprefix("http://testserver"), 403),
                         ("/h/not-a-token", 400), (f"/h/{token}x", 403)):
        answer = site.phone().get(path, headers={"Accept-Language": "en"})
        assert answer.status_code == status, path
        assert "This link is not valid" in answer.text and "set-cookie" not in answer.headers
    assert (site.pages.stats.links_forged, site.pages.stats.links_malformed, site.taken()) == (3, 1, 0)
    assert site.phone().get(link, follow_redirects=False).status_code == 303  # the real one is still whole


def test_a_phone_s_wishlist_change_is_stored_like_the_api_s(site: Site) -> None:
    phone = site.phone()
    phone.get(site.link(_visit_at_the_kiosk(site.store, [BOOT, TOTE], SHOPPER), SHOPPER))
    page = phone.get("/phone/visit?lang=en").text
    assert "With your loyalty card" in page and "Add to my wishlist" in page
    added = phone.post("/phone/wishlist", data={**_form(phone), "sku": TOTE, "action": "add"}, headers=ORIGIN,
                       follow_redirects=False)
    assert added.status_code == 303
    assert added.headers["location"] == f"../phone/visit?lang=en&done=added&sku={TOTE}"
    assert _wishlist(site, phone) == [TOTE]
    profile = phone.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()
    change = [entry for entry in profile["history"] if entry["kind"] == "wishlist_add"]
    assert [(c["channel"], c["store"], c["kiosk"], c["sku"]) for c in change] == [("phone", "online", "phone", TOTE)]
    shown = phone.get(f"/phone/visit?lang=en&done=added&sku={TOTE}").text
    assert "Brown leather tote bag: added to your wishlist." in shown and "Remove from my wishlist" in shown
    assert "In stock in 4 of 5 sizes" in shown and "2 left" in shown  # the boot, the one-size tote
    removed = phone.post("/phone/wishlist", data={**_form(phone), "sku": TOTE, "action": "remove"},
                         headers=ORIGIN, follow_redirects=False)
    assert removed.status_code == 303 and _wishlist(site, phone) == []
    # The API's next change is ordered after the phone's, by HLC, as two API changes are.
    assert phone.put(f"/v1/shoppers/{SHOPPER}/wishlist/{TOTE}", headers=WEB).json()["wishlist"] == [TOTE]
    assert site.pages.stats.wishlist_changes == 2


@pytest.mark.parametrize(("headers", "token"), [
    ({"Origin": "http://evil.example"}, "right"),
    ({"Origin": "null"}, "right"),
    ({"Origin": "http://testserver:8080"}, "right"),
    (ORIGIN, "wrong"),
    (ORIGIN, ""),
    ({"Sec-Fetch-Site": "cross-site"}, "right"),
])
def test_a_form_from_anywhere_but_the_phone_s_own_page_is_refused(site: Site, headers: dict[str, str],
                                                                  token: str) -> None:
    phone = site.phone()
    phone.get(site.link(_visit_at_the_kiosk(site.store, [BOOT], SHOPPER), SHOPPER))
    form = _form(phone)
    form["form_token"] = {"right": form["form_token"], "wrong": form["form_token"][::-1], "": ""}[token]
    answer = phone.post("/phone/wishlist", data={**form, "sku": BOOT, "action": "add"}, headers=headers)
    assert answer.status_code == 403 and "That did not work" in answer.text
    assert _wishlist(site, phone) == [] and site.pages.stats.forms_refused == 1


def test_an_anonymous_visit_has_no_wishlist_and_a_revoked_consent_shows_no_identity(site: Site) -> None:
    anonymous = site.phone()
    anonymous.get(site.link(_visit_at_the_kiosk(site.store, [BOOT])))
    assert site.pages.sessions is not None
    visit = site.pages.sessions.visit(anonymous.cookies[VISIT_COOKIE])
    assert visit is not None and visit.shopper is None  # the phone's session knows the visit only
    refused = anonymous.post("/phone/wishlist", data={"form_token": visit.form_token, "sku": BOOT,
                                                      "action": "add"}, headers=ORIGIN)
    assert refused.status_code == 400 and site.store.event_count() == 2
    signed_in = site.phone()
    signed_in.get(site.link(_visit_at_the_kiosk(site.store, [BOOT], SHOPPER), SHOPPER))
    assert signed_in.put(f"/v1/shoppers/{SHOPPER}/consent", headers=WEB,
                         json={"status": "revoked"}).status_code == 200
    page = signed_in.get("/phone/visit").text
    assert SHOPPER not in page and "form_token" not in page


def test_without_a_session_the_visit_page_says_to_scan_the_kiosk(site: Site) -> None:
    phone = site.phone()
    phone.cookies.set(VISIT_COOKIE, "guessed")
    answer = phone.get("/phone/visit")
    assert answer.status_code == 403 and "Escanea el código del quiosco" in answer.text


def test_of_two_phones_racing_for_one_link_exactly_one_takes_it(postgres_url: str, tmp_path: Path) -> None:
    site = _site(postgres_url, tmp_path)
    try:
        link = site.link(uuid.uuid4())
        statuses: list[int] = []
        start = threading.Barrier(6)

        def open_it() -> None:
            phone = site.phone()
            start.wait()
            statuses.append(phone.get(link, follow_redirects=False).status_code)

        racers = [threading.Thread(target=open_it) for _ in range(6)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(30)
        assert sorted(statuses) == [303, 410, 410, 410, 410, 410] and site.taken() == 1
    finally:
        site.store.close()


def test_an_api_channel_may_not_be_named_like_the_phone_pages(site: Site) -> None:
    with pytest.raises(CredentialsError, match="phone"):
        create_app(site.store, ApiKeys({"phone": "phone-key-0123456789abcdef"}), phone=site.pages)


def test_the_visit_page_greets_by_the_name_given_and_never_shows_the_shopper_s_id(site: Site) -> None:
    phone = site.phone()
    phone.get(site.link(_visit_at_the_kiosk(site.store, [BOOT], SHOPPER), SHOPPER))
    assert SHOPPER not in phone.get("/phone/visit?lang=en").text
    named = phone.put(f"/v1/shoppers/{SHOPPER}/display-name", json={"display_name": "Lucía"}, headers=WEB)
    assert named.status_code == 200, named.text
    page = phone.get("/phone/visit?lang=es").text
    assert "Hola, Lucía: con tu tarjeta de cliente" in page and SHOPPER not in page
