"""What the offer screens and the product screen say of offers, without a screen: what an offer
takes off and until when in each language, why a sign's offer is not on, the price after an
offer beside the usual one, cards "on offer"; and the kiosk's pricing and saved coupons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox
from kiosk_app import Kiosk, OutcomeKind
from kiosk_app.demo import demo_catalog_path
from kiosk_app.ui.present import discount_text, product_view, profile_cards, suggestion_views
from kiosk_app.ui.present_offers import coupon_lines, day_text, last_day, offer_view, unavailable_text
from kiosk_protocol import (
    Audience,
    Discount,
    DiscountKind,
    EventKind,
    Offer,
    OfferList,
    PricedOffer,
    Product,
    Role,
    best_offer,
    decode_event,
    issue_token,
    load_catalog,
)
from kiosk_protocol._cards import card_verifier
from kiosk_protocol.catalog import Texts
from nfc_reader import TagKind, TagRead
from recommender import Reason, ReasonKind, Suggestion

CATALOG = load_catalog(demo_catalog_path())
STORE = "madrid-centro"
BOOT, TAN_BOOT, TOTE = CATALOG.products[0], CATALOG.products[1], CATALOG.products[9]
NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
HQ = Ed25519PrivateKey.generate()


def offer(offer_id: str = "WINTER-BOOTS", kind: DiscountKind = DiscountKind.PERCENT, value: str = "20",
          starts: datetime = NOW - timedelta(days=1), ends: datetime = datetime(2027, 1, 31, 12, tzinfo=UTC),
          audience: Audience = Audience.EVERYONE) -> Offer:
    return Offer(id=offer_id, title=Texts(es="Botas de invierno", en="Winter boots"),
                 terms=Texts(es="Mientras queden tallas.", en="While sizes last."),
                 discount=Discount(kind=kind, value=Decimal(value)), category="footwear/boots", stores=(STORE,),
                 starts=starts, ends=ends, audience=audience)


@pytest.mark.parametrize(("kind", "value", "language", "said"), [
    (DiscountKind.PERCENT, "20", "es", "-20 %"),
    (DiscountKind.PERCENT, "20", "en", "20% off"),
    (DiscountKind.PERCENT, "12.50", "es", "-12,5 %"),
    (DiscountKind.PERCENT, "12.50", "en", "12.5% off"),
    (DiscountKind.AMOUNT, "10", "es", "-10,00\u00a0€"),
    (DiscountKind.AMOUNT, "10", "en", "€10.00 off"),
    (DiscountKind.PRICE, "49.95", "es", "Precio especial: 49,95\u00a0€"),
    (DiscountKind.PRICE, "49.95", "en", "Special price: €49.95"),
])
def test_what_an_offer_takes_off_reads_as_shoppers_write_it(kind: DiscountKind, value: str, language: str,
                                                            said: str) -> None:
    assert discount_text(Discount(kind=kind, value=Decimal(value)), CATALOG, language) == said


def test_days_are_written_in_the_shopper_s_language_with_the_year_only_when_not_this_one() -> None:
    today = date(2026, 8, 15)
    assert day_text(date(2026, 9, 1), "es", today) == "1 de septiembre"
    assert day_text(date(2026, 9, 1), "en", today) == "1 September"
    assert day_text(date(2027, 1, 31), "es", today) == "31 de enero de 2027"
    assert day_text(date(2027, 1, 31), "en", today) == "31 January 2027"


def test_an_offer_ending_at_midnight_ran_until_the_day_before() -> None:
    midnight = datetime(2026, 9, 1, tzinfo=UTC).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    assert last_day(offer(ends=midnight, starts=midnight - timedelta(days=9))) == (midnight - timedelta(days=1)).date()


def test_a_sign_s_offer_not_on_here_says_when_it_ended_or_starts_or_that_it_is_unknown() -> None:
    ended = offer(starts=datetime(2026, 7, 1, 12, tzinfo=UTC), ends=datetime(2026, 9, 1, 12, tzinfo=UTC))
    later = offer(starts=datetime(2027, 2, 1, 12, tzinfo=UTC), ends=datetime(2027, 3, 1, 12, tzinfo=UTC))
    assert unavailable_text(ended, STORE, "es", NOW) == "Esta oferta terminó el 1 de septiembre"
    assert unavailable_text(ended, STORE, "en", NOW) == "This offer ended on 1 September"
    assert unavailable_text(later, STORE, "es", NOW) == "Esta oferta empieza el 1 de febrero de 2027"
    assert unavailable_text(later, STORE, "en", NOW) == "This offer starts on 1 February 2027"
    assert unavailable_text(None, STORE, "es", NOW) == "Esta oferta no está disponible en esta tienda"
    assert unavailable_text(offer(), "barcelona-diagonal", "en", NOW) == "This offer is not available in this store"


def test_the_offer_screen_lists_its_products_at_their_price_after_it_beside_the_usual_one() -> None:
    view = offer_view(offer(), (BOOT, TAN_BOOT), CATALOG, demo_catalog_path(), STORE, "es", NOW)
    assert (view.title, view.discount, view.until, view.for_members, view.members_note) == (
        "Botas de invierno", "-20 %", "Hasta el 31 de enero de 2027", False, "")
    assert [(c.sku, c.price, c.usual_price, c.reason) for c in view.products] == [
        (BOOT.sku, "71,96\u00a0€", "89,95\u00a0€", "11 en tienda"),
        (TAN_BOOT.sku, "75,96\u00a0€", "94,95\u00a0€", "12 en tienda")]
    members = offer_view(offer(audience=Audience.MEMBERS), (), CATALOG, demo_catalog_path(), STORE, "en", NOW)
    assert (members.for_members, members.members_note, members.products) == (True, "For loyalty card holders", ())


def test_the_product_screen_shows_the_price_after_the_offer_the_usual_one_and_which_offer_gives_it() -> None:
    priced = best_offer((offer(),), BOOT, STORE, NOW, member=False)
    for language, price, usual, named in (("es", "71,96\u00a0€", "89,95\u00a0€", "Botas de invierno · -20 %"),
                                          ("en", "€71.96", "€89.95", "Winter boots · 20% off")):
        view = product_view(BOOT, CATALOG, demo_catalog_path(), STORE, language, priced)
        assert (view.price, view.usual_price, view.offer) == (price, usual, named)
    plain = product_view(BOOT, CATALOG, demo_catalog_path(), STORE, "es")
    assert (plain.price, plain.usual_price, plain.offer) == ("89,95\u00a0€", "", "")


def test_cards_of_products_on_offer_say_so_at_the_price_after_it() -> None:
    def pricing(product: Product) -> PricedOffer | None:
        return best_offer((offer(),), product, STORE, NOW, member=False)

    popular = Reason(ReasonKind.POPULAR_IN_STORE)
    suggested = (Suggestion(TAN_BOOT.sku, 1.0, popular), Suggestion(TOTE.sku, 0.5, popular))
    cards = suggestion_views(suggested, BOOT.sku, CATALOG, demo_catalog_path(), STORE, "en", pricing)
    assert [(c.sku, c.price, c.on_offer) for c in cards] == [(TAN_BOOT.sku, "€75.96", "On offer"),
                                                             (TOTE.sku, "€119.00", "")]
    cards = profile_cards((TAN_BOOT.sku,), "reason_in_wishlist", CATALOG, demo_catalog_path(), STORE, "es",
                          pricing=pricing)
    assert [(c.price, c.on_offer) for c in cards] == [("75,96\u00a0€", "En oferta")]


def test_coupons_are_listed_by_title_and_discount_and_unknown_offers_left_out() -> None:
    offers = OfferList(offers=(offer(), offer("CLUB-10", DiscountKind.AMOUNT, "10")))
    assert coupon_lines({"CLUB-10", "WINTER-BOOTS", "GONE"}, offers, CATALOG, "es") == (
        "Botas de invierno · -10,00\u00a0€", "Botas de invierno · -20 %")


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    kiosk = Kiosk(load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite"), STORE, "kiosk-01",
                  verify_card=card_verifier(HQ.public_key()))
    now = datetime.now(UTC)
    kiosk.offers = OfferList(offers=(
        offer(starts=now - timedelta(days=1), ends=now + timedelta(days=1)),
        offer("CLUB-BOOTS", DiscountKind.PERCENT, "30", starts=now - timedelta(days=1), ends=now + timedelta(days=1),
              audience=Audience.MEMBERS)))
    return kiosk


def sign_in(kiosk: Kiosk, consent: bool) -> str:
    token = issue_token(HQ, "shopper-1", Role.SHOPPER, 60)
    assert kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=token)).kind is OutcomeKind.SIGNED_IN
    kiosk.consent(consent)
    return token


def test_the_kiosk_prices_by_the_best_offer_running_here_members_ones_only_for_a_signed_in_shopper(
    kiosk: Kiosk,
) -> None:
    anonymous = kiosk.offer_price(BOOT)
    assert anonymous is not None and (anonymous.offer.id, anonymous.price) == ("WINTER-BOOTS", Decimal("71.96"))
    sign_in(kiosk, consent=False)
    member = kiosk.offer_price(BOOT)
    assert member is not None and (member.offer.id, member.price) == ("CLUB-BOOTS", Decimal("62.97"))
    assert kiosk.offer_price(TOTE) is None


def test_a_members_offer_is_saved_only_for_a_signed_in_consenting_shopper_once_recorded(kiosk: Kiosk) -> None:
    assert not kiosk.save_coupon("CLUB-BOOTS")  # nobody signed in
    sign_in(kiosk, consent=False)
    assert not kiosk.save_coupon("CLUB-BOOTS")  # signed in, but the visit is not theirs to link
    kiosk.consent(True)
    assert not kiosk.save_coupon("NO-SUCH-OFFER")
    assert kiosk.save_coupon("CLUB-BOOTS")
    assert kiosk.session.coupons == {"CLUB-BOOTS"}
    saves = [e for e in (decode_event(m.payload, topic=m.topic) for m in kiosk.outbox.pending())
             if e.kind is EventKind.COUPON_SAVE]
    assert [(e.shopper, e.offer, e.hlc is not None, e.card is not None) for e in saves] == [
        ("shopper-1", "CLUB-BOOTS", True, True)]


def test_a_product_opened_from_an_offer_is_a_view_but_no_tag_tap(kiosk: Kiosk) -> None:
    outcome = kiosk.open_product(BOOT.sku)
    assert outcome.kind is OutcomeKind.PRODUCT and outcome.product == BOOT
    assert kiosk.counters.taps == 0 and kiosk.session.viewed_skus == (BOOT.sku,)
    assert kiosk.open_product("NO-SUCH-SKU").kind is OutcomeKind.UNKNOWN_PRODUCT
    kiosk.machine.lock("staff")
    assert kiosk.open_product(BOOT.sku).kind is OutcomeKind.NOT_HANDLED
