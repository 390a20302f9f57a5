"""Offers in the real kiosk window under Xvfb, on offers.json beside a copy of the demo catalog:
a sign tapped through nfcpy's udp driver opens its offer screen with its texts and its
products (touch one to see it), the product screen at the price after the offer with the
usual one struck through and the offer named, in both languages, suggestion cards saying
"on offer", the screen for a sign of an offer that ended, is yet to start or is unknown,
and a members' offer saved to a shopper's card from the screen, then listed on their
welcome. Every text on these screens fits its box.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/offer*.png, product-offer*.png
and welcome-coupon.png from these runs.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.kiosk import OutcomeKind, TapOutcome
from kiosk_protocol import (
    Audience,
    Discount,
    DiscountKind,
    EventKind,
    Hlc,
    Offer,
    Product,
    Role,
    decode_event,
    issue_token,
    load_catalog,
    new_event,
    offers_json,
)
from kiosk_protocol._cards import card_verifier
from kiosk_protocol.catalog import Texts
from nfc_reader import TagEmulator, encode_card, encode_offer
from testkit.mosquitto import Mosquitto
from testkit.waiting import until
from tests.integration.kiosk_window_steps import (
    card_skus,
    kiosk_config,
    overflowing_labels,
    screenshot,
    settled,
    small_touch_targets,
    tap,
)

CATALOG = load_catalog(demo_catalog_path())
STORE = "madrid-centro"
BOOT, TAN_BOOT = CATALOG.products[0], CATALOG.products[1]
SHOPPER = "shopper-0042"
NOW = datetime.now(UTC)
WINTER_BOOTS = Offer(
    id="WINTER-BOOTS", title=Texts(es="Botas de invierno", en="Winter boots"),
    terms=Texts(es="En todos los botines de esta tienda, mientras queden tallas. No acumulable a otras ofertas.",
                en="On every boot in this store while sizes last. Not with any other offer."),
    discount=Discount(kind=DiscountKind.PERCENT, value=Decimal(20)), category="footwear/boots",
    stores=(STORE,), starts=NOW - timedelta(days=1), ends=(NOW + timedelta(days=40)).replace(hour=12, minute=0))
CLUB_KNIT = Offer(
    id="CLUB-KNIT", title=Texts(es="Punto para socios", en="Members' knitwear"),
    terms=Texts(es="Una vez por cliente con tarjeta.", en="Once per loyalty card holder."),
    discount=Discount(kind=DiscountKind.AMOUNT, value=Decimal(10)), category="knitwear",
    stores=(STORE,), starts=NOW - timedelta(days=1), ends=NOW + timedelta(days=10), audience=Audience.MEMBERS)
# Ended on 1 September of last year: the screen names the day, and the year as it is not this one.
SUMMER = Offer(
    id="SUMMER-SANDALS", title=Texts(es="Sandalias de verano", en="Summer sandals"),
    terms=Texts(es="Hasta fin de existencias.", en="While stocks last."),
    discount=Discount(kind=DiscountKind.PERCENT, value=Decimal(30)), skus=("SAND-STRAP-CML",), stores=(STORE,),
    starts=datetime(NOW.year - 1, 7, 1, 12, tzinfo=UTC), ends=datetime(NOW.year - 1, 9, 1, 12, tzinfo=UTC))
NEXT_YEAR = SUMMER.model_copy(update={"id": "NEXT-SANDALS", "starts": datetime(NOW.year + 1, 6, 1, 12, tzinfo=UTC),
                                      "ends": datetime(NOW.year + 1, 9, 1, 12, tzinfo=UTC)})
OFFERS = (WINTER_BOOTS, CLUB_KNIT, SUMMER, NEXT_YEAR)


def covered_in_stock(offer: Offer) -> tuple[Product, ...]:
    """What the kiosk's core gives the offer screen: the covered products sold here with stock here."""
    return tuple(p for p in CATALOG.products
                 if offer.covers(p) and p.sold_in(STORE) and any(p.stock_in(STORE).values()))


@pytest.fixture
def catalog_with_offers(tmp_path: Path) -> Path:
    """A copy of the demo catalog with offers.json beside it, as a bundle installs them."""
    folder = tmp_path / "catalog"
    shutil.copytree(demo_catalog_path().parent, folder, ignore=shutil.ignore_patterns("*.py"))
    (folder / "offers.json").write_bytes(offers_json(OFFERS))
    return folder / "demo.json"


@pytest.fixture
def hq_profiles(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[None]:
    """HQ answering profile requests, so that the welcome has the shopper's profile."""
    store = ProfileStore(sqlite_url)
    web = uuid.uuid4()
    store.record_many([
        new_event(kind=EventKind.PRODUCT_VIEW, store="web", kiosk="web-shop", seq=1, session=web, shopper=SHOPPER,
                  sku="KNIT-CARD-GRN"),
        new_event(kind=EventKind.WISHLIST_ADD, store="web", kiosk="web-shop", seq=2, session=web, shopper=SHOPPER,
                  sku="COAT-WOOL-GRY", hlc=str(Hlc(1, 0, "web"))),
    ])
    responder = ProfileResponder(mosquitto.url, store, card_verifier(hq_key[0].public_key()))
    responder.start()
    assert responder.subscribed.wait(10)
    yield
    responder.stop()
    store.close()


def run_window(tmp_path: Path, mosquitto: Mosquitto, hq_pem: Path, catalog: Path, scenario: Any) -> None:
    from testkit.kivy_window import run_kiosk_window

    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = kiosk_config(tmp_path, mosquitto.url, emulator, hq_pem)
    async def when_online(app: Any) -> None:
        await until(lambda: app.broker_online)  # the status line says so in the screenshots too
        await scenario(app, emulator)

    try:
        run_kiosk_window(dataclasses.replace(config, catalog=catalog), when_online)
    finally:
        emulator.close()


def test_a_sign_s_offer_shows_its_texts_and_products_and_a_touched_one_shows_the_price_after_it(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
    catalog_with_offers: Path,
) -> None:
    seen: dict[str, Any] = {}

    async def scenario(app: Any, emulator: TagEmulator) -> None:
        offer_screen, product = app.sm.get_screen("offer"), app.sm.get_screen("product")
        seen["offers"] = [o.id for o in app.runtime.offers.offers]
        await tap(emulator, encode_offer(CATALOG.shop_url, WINTER_BOOTS.id))  # the sign, through nfcpy's udp driver
        await until(lambda: app.sm.current == "offer")
        for language in ("es", "en"):
            app.language = language
            await screenshot(app, f"offer-{language}", tmp_path)
            ids = offer_screen.ids
            seen[f"offer_{language}"] = (app.sm.current, ids.offer_title.text, ids.offer_discount.text,
                                         ids.offer_until.text, ids.offer_terms.text, ids.offer_products_title.text,
                                         offer_screen.save_state)
            cards = list(reversed(ids.offer_products.children))
            seen[f"cards_{language}"] = [(c.sku, c.price_text, c.usual_markup) for c in cards]
            seen[f"fit_offer_{language}"] = overflowing_labels(app) + small_touch_targets(app)
        app.toggle_accessible()  # large text: the offer still fits its boxes
        await settled(app)
        seen["fit_offer_large"] = overflowing_labels(app)
        app.toggle_accessible()
        app.language = "es"
        await settled(app)
        taps_before = app.runtime.kiosk.counters.taps
        await until(lambda: app.runtime.kiosk.recommender is not None)  # suggestions come with the product
        pressed = next(c for c in offer_screen.ids.offer_products.children if c.sku == BOOT.sku)
        pressed.dispatch("on_release")
        await until(lambda: app.sm.current == "product" and product.sku == BOOT.sku)
        seen["taps"] = app.runtime.kiosk.counters.taps - taps_before
        events = [decode_event(m.payload, topic=m.topic) for m in app.runtime.outbox.pending()]
        seen["events"] = [(e.kind, e.offer or e.sku or e.beside) for e in events]
        for language in ("es", "en"):
            app.language = language
            await screenshot(app, f"product-offer-{language}", tmp_path)
            ids = product.ids
            seen[f"product_{language}"] = (ids.product_price.text, ids.product_usual_price.text,
                                           ids.product_offer.text)
            seen[f"suggestions_{language}"] = [(c.sku, c.badge_text) for c in reversed(ids.suggestions.children)]
            seen[f"fit_product_{language}"] = overflowing_labels(app)
            seen[f"struck_{language}"] = (ids.product_usual_price.texture_size, ids.product_usual_price.right,
                                          ids.product_colour.x)
        app.toggle_accessible()
        await settled(app)
        seen["fit_product_large"] = overflowing_labels(app)
        app.root.export_to_png(str(tmp_path / "product-offer-large.png"))  # to look at, not for the docs

    run_window(tmp_path, mosquitto, hq_key[1], catalog_with_offers, scenario)

    assert seen["offers"] == sorted(o.id for o in OFFERS)  # read from offers.json beside the catalog
    until_es = seen["offer_es"][3]
    assert seen["offer_es"][:3] == ("offer", "Botas de invierno", "-20 %")
    assert until_es.startswith("Hasta el ") and " de " in until_es
    assert seen["offer_es"][4:] == (WINTER_BOOTS.terms.es, "En oferta en esta tienda", "")  # for everyone: no saving
    assert seen["offer_en"][1:3] == ("Winter boots", "20% off") and seen["offer_en"][3].startswith("Until ")
    assert seen["offer_en"][5] == "On offer in this store"
    # Both boots, each at 20 % off with its usual price struck through: 89,95 -> 71,96; 94,95 -> 75,96.
    assert seen["cards_es"] == [(BOOT.sku, "71,96\u00a0€", "[s]89,95\u00a0€[/s]"),
                                (TAN_BOOT.sku, "75,96\u00a0€", "[s]94,95\u00a0€[/s]")]
    assert seen["cards_en"] == [(BOOT.sku, "€71.96", "[s]€89.95[/s]"), (TAN_BOOT.sku, "€75.96", "[s]€94.95[/s]")]
    assert seen["taps"] == 0  # a touched card is no tag tap, but the product was seen
    assert seen["events"] == [(EventKind.VISIT_START, None), (EventKind.OFFER_TAP, WINTER_BOOTS.id),
                              (EventKind.PRODUCT_VIEW, BOOT.sku), (EventKind.SUGGESTION_SHOWN, BOOT.sku)]
    assert seen["product_es"] == ("71,96\u00a0€", "[s]89,95\u00a0€[/s]", "Botas de invierno · -20 %")
    assert seen["product_en"] == ("€71.96", "[s]€89.95[/s]", "Winter boots · 20% off")
    for language, on_offer in (("es", "En oferta"), ("en", "On offer")):
        suggestions = seen[f"suggestions_{language}"]
        assert suggestions
        assert all(text == (on_offer if WINTER_BOOTS.covers(CATALOG.product(sku)) else "")  # type: ignore[arg-type]
                   for sku, text in suggestions)
        (width, _), usual_right, colour_x = seen[f"struck_{language}"]
        assert width > 0 and usual_right <= colour_x  # drawn, beside the price, clear of the colour
        assert seen[f"fit_offer_{language}"] == [] and seen[f"fit_product_{language}"] == []
    assert seen["fit_offer_large"] == [] and seen["fit_product_large"] == []


def test_a_sign_of_an_offer_not_on_here_says_when_it_ended_or_starts_or_that_it_is_unknown(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
    catalog_with_offers: Path,
) -> None:
    seen: dict[str, Any] = {}
    last_year, next_year = NOW.year - 1, NOW.year + 1

    async def scenario(app: Any, emulator: TagEmulator) -> None:
        screen = app.sm.get_screen("offer_unavailable")
        for name, offer_id, offer in (("ended", SUMMER.id, SUMMER), ("starts", NEXT_YEAR.id, NEXT_YEAR),
                                      ("unknown", "NO-SUCH-OFFER", None)):
            app.show_outcome(TapOutcome(OutcomeKind.OFFER_UNAVAILABLE, offer_id=offer_id, offer=offer))
            for language in ("es", "en"):
                app.language = language
                if name == "ended" and language == "es":
                    await screenshot(app, "offer-unavailable", tmp_path)
                await settled(app)
                seen[(name, language)] = (app.sm.current, screen.ids.unavailable_title.text,
                                          screen.ids.unavailable_message.text)
                seen[("fit", name, language)] = overflowing_labels(app)
        screen.ids.unavailable_back_button.dispatch("on_release")
        await settled(app)
        seen["back"] = app.sm.current

    run_window(tmp_path, mosquitto, hq_key[1], catalog_with_offers, scenario)

    assert seen[("ended", "es")] == ("offer_unavailable", "Sandalias de verano",
                                     f"Esta oferta terminó el 1 de septiembre de {last_year}")
    assert seen[("ended", "en")] == ("offer_unavailable", "Summer sandals",
                                     f"This offer ended on 1 September {last_year}")
    assert seen[("starts", "es")][2] == f"Esta oferta empieza el 1 de junio de {next_year}"
    assert seen[("starts", "en")][2] == f"This offer starts on 1 June {next_year}"
    assert seen[("unknown", "es")] == ("offer_unavailable", "", "Esta oferta no está disponible en esta tienda")
    assert seen[("unknown", "en")][2] == "This offer is not available in this store"
    assert all(problems == [] for key, problems in seen.items() if key[0] == "fit")
    assert seen["back"] == "attract"


def test_a_members_offer_is_saved_to_the_signed_in_shopper_s_card_and_listed_on_their_welcome(
    xvfb_display: str, mosquitto: Mosquitto, hq_profiles: None, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path, catalog_with_offers: Path,
) -> None:
    seen: dict[str, Any] = {}
    card = encode_card(issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
    knit = covered_in_stock(CLUB_KNIT)

    async def scenario(app: Any, emulator: TagEmulator) -> None:
        offer_screen, welcome = app.sm.get_screen("offer"), app.sm.get_screen("welcome")
        app.show_outcome(TapOutcome(OutcomeKind.OFFER, offer=CLUB_KNIT, products=knit))
        await settled(app)
        seen["anonymous"] = (offer_screen.save_state, offer_screen.ids.save_hint.text,
                             offer_screen.ids.save_button.opacity, offer_screen.ids.offer_members.text)
        seen["anonymous_price"] = app.runtime.offer_price(knit[0])  # a members' offer: not for a stranger
        await tap(emulator, card)
        await until(lambda: app.sm.current == "welcome" and welcome.profile_note == "" and welcome.has_recent)
        welcome.ids.consent_yes.dispatch("on_release")
        seen["member_price"] = app.runtime.offer_price(knit[0])
        app.show_outcome(TapOutcome(OutcomeKind.OFFER, offer=CLUB_KNIT, products=knit, shopper=SHOPPER))
        await settled(app)
        seen["before"] = (offer_screen.save_state, offer_screen.ids.save_button.text,
                          offer_screen.ids.save_button.disabled)
        await screenshot(app, "offer-members", tmp_path)
        seen["small"] = small_touch_targets(app)
        offer_screen.ids.save_button.dispatch("on_release")
        await settled(app)
        seen["after"] = (offer_screen.save_state, offer_screen.ids.save_button.text,
                         offer_screen.ids.save_button.disabled, set(app.runtime.kiosk.session.coupons))
        events = [decode_event(m.payload, topic=m.topic) for m in app.runtime.outbox.pending()]
        seen["saves"] = [(e.shopper, e.offer, e.card is not None) for e in events if e.kind is EventKind.COUPON_SAVE]
        seen["fit_offer"] = overflowing_labels(app)
        app.language = "en"
        await settled(app)
        seen["after_en"] = offer_screen.ids.save_button.text
        app.language = "es"
        app.sm.current = "welcome"
        await screenshot(app, "welcome-coupon", tmp_path)
        seen["coupons"] = (welcome.ids.coupons_title.text, welcome.ids.coupons.text, card_skus(welcome.ids.recent))
        seen["recent_cards"] = [(c.price_text, c.badge_text) for c in reversed(welcome.ids.recent.children)]
        seen["fit_welcome"] = overflowing_labels(app)

    run_window(tmp_path, mosquitto, hq_key[1], catalog_with_offers, scenario)

    assert seen["anonymous"] == ("card", "Toca tu tarjeta y luego este cartel otra vez para guardarla", 0,
                                 "Para clientes con tarjeta")
    assert seen["anonymous_price"] is None
    assert seen["member_price"] is not None and seen["member_price"].offer.id == CLUB_KNIT.id
    assert seen["before"] == ("save", "Guardar en mi tarjeta", False)
    assert seen["small"] == []  # the save button, the way back and every product card: 48 dp at least
    assert seen["after"] == ("saved", "Guardado", True, {CLUB_KNIT.id})
    assert seen["saves"] == [(SHOPPER, CLUB_KNIT.id, True)]  # one coupon_save, under the card read in the visit
    assert seen["after_en"] == "Saved"
    assert seen["coupons"] == ("Tus cupones", "Punto para socios · -10,00\u00a0€", ["KNIT-CARD-GRN"])
    assert seen["recent_cards"] == [("44,95\u00a0€", "En oferta")]  # the cardigan, at the members' price for them
    assert seen["fit_offer"] == [] and seen["fit_welcome"] == []
