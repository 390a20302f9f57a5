"""The dashboard's offers list in a real headless Chromium (Playwright with Debian's chromium),
served by HQ's app on uvicorn: offers by store with their state now, window, discount and
counts of sign taps (per store), coupons saved and redeemed (seeded through the profile
store as ingest and the coupon API store them); refused without the fleet's key or sign-in.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/dashboard-offers.png from this run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from hq import ApiKeys, ApiServer, FleetView, ProfileStore, create_app
from hq._offer_counts import OfferCounts, offer_counts
from hq._store import CardVisit, shopper_key
from kiosk_app.demo import free_port
from kiosk_protocol import EventKind, Hlc, Offer, new_event
from testkit.chromium import CHROMIUM, CHROMIUM_ARGS
from testkit.dashboard import sign_in

KEYS = {"web": "web-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
MADRID, BARCELONA, SEVILLA = "madrid-centro", "barcelona-diagonal", "sevilla-nervion"
expect.set_options(timeout=20_000)


def _offer(offer_id: str, title: str, stores: list[str], starts: timedelta, ends: timedelta,
           **more: object) -> Offer:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return Offer.model_validate({
        "id": offer_id, "title": {"es": title, "en": title}, "terms": {"es": "Ver en tienda.", "en": "See in store."},
        "discount": {"kind": "percent", "value": 20}, "skus": ["BOOT-CHELSEA-BLK"], "stores": stores,
        "starts": (now + starts).isoformat(), "ends": (now + ends).isoformat(), **more})


def _offers() -> list[Offer]:
    """Offers around now: two running, one scheduled, one ended."""
    return [
        _offer("WINTER-BOOTS", "Boots for the winter", [MADRID, BARCELONA], -timedelta(days=3), timedelta(days=27),
               category="footwear/boots", skus=()),
        _offer("TOTE-CLUB", "The leather tote at 99", [MADRID], -timedelta(days=1), timedelta(days=6),
               discount={"kind": "price", "value": 99}, skus=["BAG-TOTE-BRN"], audience="members", per_shopper=2),
        _offer("KNIT-WEEK", "Knitwear week", [BARCELONA, SEVILLA], timedelta(days=5), timedelta(days=12),
               discount={"kind": "amount", "value": 10}, category="knitwear", skus=()),
        _offer("SUMMER-SANDALS", "Summer sandals", [MADRID], -timedelta(days=120), -timedelta(days=30),
               skus=["SAND-STRAP-CML"]),
    ]


@dataclass
class Hq:
    url: str
    store: ProfileStore


@pytest.fixture
def hq(fleet: FleetView, sqlite_url: str) -> Iterator[Hq]:
    store = ProfileStore(sqlite_url)
    store.offers.merge(_offers())
    server = ApiServer(create_app(store, ApiKeys(KEYS), fleet=fleet), port=free_port())
    server.start()
    yield Hq(server.url, store)
    server.stop()
    store.close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1360, "height": 860}, timezone_id="Europe/Madrid")
        browser.close()


def _screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    target = (SCREENSHOTS if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") else tmp_path) / name
    page.screenshot(path=str(target), full_page=True)
    return target


def _sign_taps(store: ProfileStore, offer: str, where: str, count: int) -> None:
    """Sign taps as ingest stores them: anonymous ``offer_tap`` events naming the offer."""
    store.record_many([new_event(kind=EventKind.OFFER_TAP, store=where, kiosk="kiosk-01", seq=seq,
                                 session=uuid.uuid4(), shopper=None, offer=offer)
                       for seq in range(1, count + 1)])


def _saved(store: ProfileStore, shopper: str, offer: str) -> None:
    """A coupon saved at a kiosk in a visit whose card HQ checked (so the shopper is a member)."""
    session = uuid.uuid4()
    store.record_many([new_event(kind=EventKind.COUPON_SAVE, store=MADRID, kiosk="kiosk-01", seq=1,
                                 session=session, shopper=shopper, offer=offer, hlc=str(Hlc(1, 0, "kiosk-01")))],
                      [CardVisit(str(session), MADRID, "kiosk-01", shopper)])


def _seed(store: ProfileStore) -> None:
    _sign_taps(store, "WINTER-BOOTS", MADRID, 7)
    _sign_taps(store, "WINTER-BOOTS", BARCELONA, 3)
    _sign_taps(store, "TOTE-CLUB", MADRID, 2)
    _sign_taps(store, "SUMMER-SANDALS", MADRID, 5)
    store.record_many([new_event(kind=EventKind.PRODUCT_VIEW, store=MADRID, kiosk="kiosk-01", seq=99,
                                 session=uuid.uuid4(), shopper=None, sku="BAG-TOTE-BRN")])  # no sign tap
    for shopper in ("shopper-0001", "shopper-0002", "shopper-0003"):
        _saved(store, shopper, "TOTE-CLUB")
    _saved(store, "shopper-0001", "WINTER-BOOTS")
    for shopper, key in (("shopper-0001", "till-1"), ("shopper-0001", "till-2"), ("shopper-0002", "web-1")):
        store.coupons.redeem(shopper, shopper_key(shopper), "TOTE-CLUB", key, "till")


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_the_counts_are_grouped_by_offer_and_store(database: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(database)
    store = ProfileStore(url)
    try:
        store.offers.merge(_offers())
        _seed(store)
        ProfileStore(url).close()  # a second HQ process starting on the same database, its index there already
        counts = offer_counts(store.engine, [o.id for o in _offers()])
        assert counts.sign_taps == {("WINTER-BOOTS", MADRID): 7, ("WINTER-BOOTS", BARCELONA): 3,
                                    ("TOTE-CLUB", MADRID): 2, ("SUMMER-SANDALS", MADRID): 5}
        assert counts.saves == {"TOTE-CLUB": 3, "WINTER-BOOTS": 1}
        assert counts.redemptions == {"TOTE-CLUB": 3}
        assert offer_counts(store.engine, ["NO-SUCH-OFFER"]) == offer_counts(store.engine, []) == OfferCounts()
    finally:
        store.close()


def test_the_offers_list_shows_each_store_s_offers_with_state_and_counts(hq: Hq, page: Page,
                                                                         tmp_path: Path) -> None:
    _seed(hq.store)
    page.goto(f"{hq.url}/fleet/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, KEYS["hq"])
    expect(page.locator("#live")).to_have_text("Live")
    page.get_by_role("link", name="Offers").click()  # from the dashboard's navigation, signed in already
    expect(page).to_have_url(f"{hq.url}/fleet/offers")
    expect(page.locator("section.store h2")).to_have_text(["Barcelona Diagonal", "Madrid Centro", "Sevilla Nervion"])
    madrid = page.locator("section.store[data-store='madrid-centro']")
    expect(madrid.locator("tbody tr")).to_have_count(3)
    rows = madrid.locator("tbody tr")
    assert [rows.nth(n).get_attribute("data-offer") for n in range(3)] == ["WINTER-BOOTS", "TOTE-CLUB",
                                                                           "SUMMER-SANDALS"]
    tote = madrid.locator("tr[data-offer='TOTE-CLUB']")
    expect(tote).to_have_attribute("data-state", "running")
    expect(tote.locator("td.num")).to_have_text(["2", "3", "3"])  # taps here, saves, redemptions
    expect(tote).to_contain_text("Members only")
    expect(tote).to_contain_text("99.00 fixed price")
    expect(tote).to_contain_text("2 times per shopper")
    boots_here = madrid.locator("tr[data-offer='WINTER-BOOTS']")
    expect(boots_here.locator("td.num")).to_have_text(["7", "1", "0"])
    expect(boots_here).to_contain_text("20% off")
    expect(boots_here).to_contain_text("footwear/boots (category)")
    sandals = madrid.locator("tr[data-offer='SUMMER-SANDALS']")
    expect(sandals).to_have_attribute("data-state", "ended")
    expect(sandals.locator(".pill")).to_have_text("Ended")
    expect(sandals.locator(".state-when")).to_have_text(["ended 30 days ago", "once per shopper"])
    barcelona = page.locator("section.store[data-store='barcelona-diagonal']")
    expect(barcelona.locator("tr[data-offer='WINTER-BOOTS'] td.num")).to_have_text(["3", "1", "0"])
    knit = barcelona.locator("tr[data-offer='KNIT-WEEK']")
    expect(knit).to_have_attribute("data-state", "scheduled")
    expect(knit.locator(".pill")).to_have_text("Scheduled")
    expect(knit).to_contain_text("starts in 5 days")
    expect(knit).to_contain_text("10.00 off")
    expect(page.locator("section.store[data-store='sevilla-nervion'] tbody tr")).to_have_count(1)
    expect(page.locator("#sum-running")).to_have_text("2")
    expect(page.locator("#sum-scheduled")).to_have_text("1")
    expect(page.locator("#sum-ended")).to_have_text("1")
    expect(page.locator("#sum-taps")).to_have_text("17")
    shot = _screenshot(page, "dashboard-offers.png", tmp_path)
    assert shot.stat().st_size > 20_000

    _sign_taps(hq.store, "WINTER-BOOTS", MADRID, 1)  # the counts move while the page is open
    expect(boots_here.locator("td.num").first).to_have_text("8")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("section.store")).to_have_count(0)


def test_the_offers_list_refuses_a_request_without_the_fleet_s_key_or_sign_in(hq: Hq, page: Page) -> None:
    with httpx.Client(base_url=hq.url) as http:
        anonymous = http.get("/fleet/api/offers")
        assert anonymous.status_code == 401 and "TOTE-CLUB" not in anonymous.text
        shop = http.get("/fleet/api/offers", headers={"X-Api-Key": KEYS["web"]})  # a channel, but no fleet one
        assert shop.status_code == 403 and "TOTE-CLUB" not in shop.text
        assert http.get("/fleet/api/offers", headers={"X-Api-Key": KEYS["hq"]}).status_code == 200
    with httpx.Client(base_url=hq.url, cookies={"hq_fleet_session": "hq.9999999999.forged"}) as forger:
        assert forger.get("/fleet/api/offers").status_code == 401
    page.goto(f"{hq.url}/fleet/offers")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#offers")).to_be_hidden()
    sign_in(page, KEYS["web"])
    expect(page.locator("#signin-error")).to_be_visible()
    expect(page.locator("section.store")).to_have_count(0)
    sign_in(page, KEYS["hq"])
    expect(page.locator("section.store")).to_have_count(3)
