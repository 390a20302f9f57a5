"""The offer model: what each discount makes of a price, which offer wins, what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import (
    OFFERS_FILE,
    CatalogError,
    Discount,
    DiscountKind,
    Offer,
    OfferList,
    OfferState,
    best_offer,
    load_catalog,
    offers_json,
    parse_offers,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CATALOG = load_catalog(demo_catalog_path())
BOOT = CATALOG.product("BOOT-CHELSEA-BLK")  # 89.95, footwear/boots
TRAINER = CATALOG.product("SNK-CANVAS-NVY")  # 39.95, footwear/sneakers
STORE = "madrid-centro"


def offer(**changes: Any) -> Offer:
    fields: dict[str, Any] = {
        "id": "WINTER-BOOTS", "title": {"es": "Botas de invierno", "en": "Winter boots"},
        "terms": {"es": "Hasta fin de existencias", "en": "While stocks last"},
        "discount": {"kind": "percent", "value": 20}, "category": "footwear/boots", "stores": [STORE],
        "starts": (NOW - timedelta(days=1)).isoformat(), "ends": (NOW + timedelta(days=1)).isoformat()}
    fields.update(changes)
    return Offer.model_validate(fields)


@pytest.mark.parametrize(("kind", "value", "after"), [
    ("percent", "20", "71.96"),  # 71.96 exactly: 89.95 * 0.8
    ("percent", "33", "60.27"),  # 60.2665 rounds half up
    ("amount", "10", "79.95"),
    ("amount", "89.95", "0.00"),
    ("price", "59.00", "59.00"),
])
def test_each_discount_kind_prices_in_cents(kind: str, value: str, after: str) -> None:
    assert Discount(kind=DiscountKind(kind), value=Decimal(value)).apply(Decimal("89.95")) == Decimal(after)


@pytest.mark.parametrize(("changes", "message"), [
    ({"discount": {"kind": "percent", "value": 120}}, "at most 100"),
    ({"discount": {"kind": "percent", "value": 0}}, "over 0"),
    ({"discount": {"kind": "amount", "value": -5}}, "greater than or equal to 0"),
    ({"discount": {"kind": "amount", "value": "0.001"}}, "decimal places"),
    ({"ends": (NOW - timedelta(days=2)).isoformat()}, "is not after starts"),
    ({"starts": "2026-12-01T10:00:00"}, "timezone"),
    ({"skus": ["BOOT-CHELSEA-BLK"]}, "one of the two"),
    ({"category": None}, "one of the two"),
    ({"id": "winter boots"}, "should match pattern"),
    ({"stores": []}, "at least 1"),
])
def test_an_offer_that_makes_no_sense_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        offer(**changes)


def test_an_offer_runs_from_its_start_until_its_end() -> None:
    winter = offer()
    assert winter.state(winter.starts - timedelta(seconds=1)) is OfferState.SCHEDULED
    assert winter.state(winter.starts) is OfferState.RUNNING
    assert winter.state(winter.ends) is OfferState.ENDED


def test_a_category_covers_its_subcategories_and_nothing_beside_it() -> None:
    footwear = offer(category="footwear")
    assert footwear.covers(BOOT) and footwear.covers(TRAINER)
    assert not offer(category="foot").covers(BOOT)  # a prefix of a name is no parent
    assert offer(category=None, skus=["SNK-CANVAS-NVY"]).covers(TRAINER)


def test_the_lowest_price_wins_and_names_its_offer() -> None:
    twenty = offer(id="TWENTY")
    fixed = offer(id="FIXED", discount={"kind": "price", "value": "69.00"})
    priced = best_offer([twenty, fixed], BOOT, STORE, NOW, member=False)
    assert priced is not None
    assert (priced.offer.id, priced.price, priced.usual) == ("FIXED", Decimal("69.00"), Decimal("89.95"))


def test_only_a_running_offer_of_this_store_for_this_shopper_applies() -> None:
    assert best_offer([offer()], BOOT, STORE, NOW + timedelta(days=2), member=False) is None  # ended
    assert best_offer([offer()], BOOT, STORE, NOW - timedelta(days=2), member=False) is None  # not started
    assert best_offer([offer()], BOOT, "barcelona-diagonal", NOW, member=False) is None
    assert best_offer([offer()], TRAINER, STORE, NOW, member=False) is None
    members = offer(audience="members")
    assert best_offer([members], BOOT, STORE, NOW, member=False) is None
    assert best_offer([members], BOOT, STORE, NOW, member=True) is not None


def test_a_fixed_price_above_the_usual_one_is_no_offer() -> None:
    assert best_offer([offer(discount={"kind": "price", "value": "99.00"})], BOOT, STORE, NOW, member=False) is None


def test_offers_json_round_trips_and_refuses_a_duplicated_id() -> None:
    offers = [offer(id="B"), offer(id="A", audience="members", per_shopper=2)]
    assert [o.id for o in parse_offers(offers_json(offers)).offers] == ["A", "B"]
    assert parse_offers(offers_json(offers)).get("A") == offers[1]
    doubled = b'{"offers": [' + offer().model_dump_json().encode() + b"," + offer().model_dump_json().encode() + b"]}"
    with pytest.raises(CatalogError, match="more than once: WINTER-BOOTS"):
        parse_offers(doubled)
    with pytest.raises(CatalogError, match="not valid"):
        parse_offers(b"{not json")


def test_hq_merges_offers_by_id_and_keeps_ended_ones(sqlite_url: str) -> None:
    from hq import ProfileStore

    store = ProfileStore(sqlite_url)
    try:
        first = store.offers.merge([offer(id="A"), offer(id="B", stores=["barcelona-diagonal"])])
        assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
        ended = offer(id="A", ends=(NOW - timedelta(hours=1)).isoformat())
        again = store.offers.merge([ended, offer(id="B", stores=["barcelona-diagonal"])])
        assert (again.added, again.updated, again.unchanged) == (0, 1, 1)
        assert store.offers.get("A") == ended and store.offers.get("NONE") is None
        assert [o.id for o in store.offers.all()] == ["A", "B"]
        assert [o.id for o in store.offers.all(stores=[STORE])] == ["A"]
    finally:
        store.close()


def test_a_kiosk_runs_on_the_offers_beside_its_catalog_and_on_none_when_they_do_not_load(tmp_path: Path) -> None:
    from kiosk_app._offers import offers_beside

    catalog_file = tmp_path / "catalog.json"
    assert offers_beside(catalog_file) == (OfferList(offers=()), "")  # a catalog from before offers
    (tmp_path / OFFERS_FILE).write_bytes(offers_json([offer()]))
    assert [o.id for o in offers_beside(catalog_file)[0].offers] == ["WINTER-BOOTS"]
    (tmp_path / OFFERS_FILE).write_bytes(b'{"offers": [{"id": "X"}]}')
    offers, problem = offers_beside(catalog_file)
    assert offers.offers == () and "offers are not valid" in problem
