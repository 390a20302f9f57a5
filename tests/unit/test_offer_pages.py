"""What the phone's offer page and the dashboard's offers list make of offers: the words for a
discount and a date, the products covered at their price after the offer, the list by store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hq._offer_counts import OfferCounts
from hq._offers_dashboard import offers_list
from hq._phone_offers import offer_page
from hq._phone_texts import texts_for
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import Offer, OfferState, load_catalog

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CATALOG = load_catalog(demo_catalog_path())
MADRID, BARCELONA = "madrid-centro", "barcelona-diagonal"


def offer(**changes: Any) -> Offer:
    fields: dict[str, Any] = {
        "id": "WINTER-BOOTS", "title": {"es": "Botas de invierno", "en": "Winter boots"},
        "terms": {"es": "Hasta fin de existencias", "en": "While stocks last"},
        "discount": {"kind": "percent", "value": 20}, "category": "footwear/boots", "stores": [MADRID],
        "starts": "2026-11-20T00:00:00+01:00", "ends": "2027-01-01T00:00:00+01:00"}
    fields.update(changes)
    return Offer.model_validate(fields)


def page(shown: Offer, language: str = "en", store: str | None = None, now: datetime = NOW) -> Any:
    return offer_page(shown, CATALOG, store, now, language, texts_for(language))


def test_an_offer_ending_at_midnight_runs_until_the_day_before_and_another_until_its_hour() -> None:
    assert page(offer()).when == "Until 31 December 2026"
    assert page(offer(), "es").when == "Hasta el 31 de diciembre de 2026"
    evening = offer(ends="2026-12-24T20:30:00+01:00")
    assert page(evening).when == "Until 24 December 2026, 20:30"
    assert page(evening, "es").when == "Hasta el 24 de diciembre de 2026 a las 20:30"
    after = datetime(2027, 2, 1, tzinfo=UTC)
    assert page(offer(), now=after).when == "This offer ended on 31 December 2026."
    assert page(offer(), now=after).state is OfferState.ENDED and page(offer(), now=after).products == ()
    before = page(offer(starts="2026-12-15T09:00:00+01:00"), "es")
    assert before.when == "Esta oferta empieza el 15 de diciembre de 2026 a las 09:00." and before.products == ()


def test_each_kind_of_discount_in_words_in_both_languages() -> None:
    assert page(offer(discount={"kind": "percent", "value": "12.5"}), "es").discount == "12,5\u00a0% de descuento"
    assert page(offer(discount={"kind": "percent", "value": 20})).discount == "20% off"
    assert page(offer(discount={"kind": "amount", "value": 10})).discount == "€10.00 off"
    assert page(offer(discount={"kind": "amount", "value": 10}), "es").discount == "10,00\u00a0€ menos"
    assert page(offer(discount={"kind": "price", "value": 79})).discount == "Now €79.00"


def test_the_covered_products_are_priced_after_the_offer_cheapest_first() -> None:
    shown = page(offer())
    assert [(p.sku, p.price, p.usual) for p in shown.products] == [
        ("BOOT-CHELSEA-BLK", "€71.96", "€89.95"), ("BOOT-CHELSEA-TAN", "€75.96", "€94.95")]
    assert shown.products[0].href == "p/BOOT-CHELSEA-BLK?lang=en"
    assert page(offer(), store=MADRID).products[0].href == "p/BOOT-CHELSEA-BLK?store=madrid-centro&lang=en"


def test_a_fixed_price_above_a_product_s_own_is_no_offer_on_it() -> None:
    shown = page(offer(discount={"kind": "price", "value": 90}))  # under 94.95, over 89.95
    assert [p.sku for p in shown.products] == ["BOOT-CHELSEA-TAN"]


def test_a_store_the_offer_does_not_run_in_prices_nothing_and_names_its_stores() -> None:
    shown = page(offer(stores=[MADRID, BARCELONA]), store="no-such-store")
    assert shown.stores == "At Madrid Centro, Barcelona Diagonal" and len(shown.products) == 2
    assert page(offer(audience="members")).members_only and not page(offer()).members_only


def test_the_dashboard_lists_each_offer_under_every_store_it_runs_in_running_first() -> None:
    offers = [offer(), offer(id="OLD", ends="2026-11-25T00:00:00+01:00", stores=[MADRID, BARCELONA]),
              offer(id="SOON", starts=(NOW + timedelta(days=2)).isoformat(), stores=[BARCELONA])]
    counts = OfferCounts(sign_taps={("WINTER-BOOTS", MADRID): 4, ("OLD", BARCELONA): 1},
                         saves={"WINTER-BOOTS": 2}, redemptions={"WINTER-BOOTS": 1})
    listed = offers_list(offers, counts, NOW)
    assert [(s.store, [(o.offer, o.state.value, o.sign_taps, o.saves, o.redemptions) for o in s.offers])
            for s in listed.stores] == [
        (BARCELONA, [("SOON", "scheduled", 0, 0, 0), ("OLD", "ended", 1, 0, 0)]),
        (MADRID, [("WINTER-BOOTS", "running", 4, 2, 1), ("OLD", "ended", 0, 0, 0)]),
    ]
    assert listed.stores[1].offers[0].applies_to == "footwear/boots (category)"
