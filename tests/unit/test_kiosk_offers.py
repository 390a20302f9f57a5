"""Sign taps, offer prices and coupons at the kiosk, without a screen, a reader or a broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox
from kiosk_app import Kiosk, OutcomeKind
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import (
    MAX_CLOCK_SKEW_S,
    Catalog,
    EventKind,
    Offer,
    OfferList,
    ProfileResponse,
    Role,
    decode_event,
    issue_token,
    load_catalog,
)
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead, decode_tag, encode_offer, encode_offer_mime

HQ = Ed25519PrivateKey.generate()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STORE = "madrid-centro"
SHOP = "https://shop.example.com"
DAY = timedelta(days=1)


def offer(offer_id: str = "WINTER-BOOTS", **changes: Any) -> Offer:
    fields: dict[str, Any] = {
        "id": offer_id, "title": {"es": "Botas de invierno", "en": "Winter boots"},
        "terms": {"es": "Hasta fin de existencias", "en": "While stocks last"},
        "discount": {"kind": "percent", "value": 20}, "category": "footwear/boots", "stores": [STORE],
        "starts": NOW - DAY, "ends": NOW + DAY}
    fields.update(changes)
    return Offer.model_validate(fields)


OFFERS = OfferList(offers=(
    offer(),
    offer("ENDED", ends=NOW - timedelta(seconds=1), starts=NOW - 2 * DAY),
    offer("LATER", starts=NOW + DAY, ends=NOW + 2 * DAY),
    offer("BARCELONA", stores=["barcelona-diagonal"]),
    offer("BOOTS-10", discount={"kind": "amount", "value": 10}, skus=["BOOT-CHELSEA-BLK"], category=None),
    offer("MEMBERS-30", audience="members", discount={"kind": "percent", "value": 30},
          skus=["BOOT-CHELSEA-BLK", "ACC-BEANIE-MUS"], category=None),
))


class Wall:
    """The kiosk's wall clock, set by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def wall() -> Wall:
    return Wall()


def make_kiosk(tmp_path: Path, wall: Wall, catalog: Catalog | None = None) -> Kiosk:
    kiosk = Kiosk(catalog or load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite"), STORE, "kiosk-01",
                  verify_card=card_verifier(HQ.public_key()), wall_clock=wall)
    kiosk.offers = OFFERS
    return kiosk


@pytest.fixture
def kiosk(tmp_path: Path, wall: Wall) -> Kiosk:
    return make_kiosk(tmp_path, wall)


def sign(offer_id: str, shop: str = SHOP) -> TagRead:
    return decode_tag("01", encode_offer(shop, offer_id))


def card(subject: str) -> TagRead:
    return TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(HQ, subject, Role.SHOPPER, 60))


# A visit's start and end, recorded around every visit, are test_visit_events' subject.
_VISIT_BOUNDS = {EventKind.VISIT_START, EventKind.VISIT_END}


def recorded(kiosk: Kiosk) -> list:  # type: ignore[type-arg]
    events = (decode_event(m.payload, topic=m.topic) for m in kiosk.outbox.pending())
    return [event for event in events if event.kind not in _VISIT_BOUNDS]


def test_a_sign_of_an_offer_running_here_shows_it_with_the_products_in_stock_here(kiosk: Kiosk) -> None:
    outcome = kiosk.handle(sign("WINTER-BOOTS"))
    assert outcome.kind is OutcomeKind.OFFER and outcome.offer is OFFERS.get("WINTER-BOOTS")
    assert [p.sku for p in outcome.products] == ["BOOT-CHELSEA-BLK", "BOOT-CHELSEA-TAN"]  # catalog order
    assert outcome.offer_id == "WINTER-BOOTS" and kiosk.machine.mode.value == "browsing"


def test_covered_products_out_of_stock_or_not_sold_here_are_left_out(tmp_path: Path, wall: Wall) -> None:
    document = load_catalog(demo_catalog_path()).model_dump(mode="json")
    for product in document["products"]:
        if product["sku"] == "BOOT-CHELSEA-TAN":
            product["stores"] = ["barcelona-diagonal"]
    kiosk = make_kiosk(tmp_path, wall, Catalog.model_validate(document))
    kiosk.offers = OfferList(offers=(offer("SOME", skus=["BOOT-CHELSEA-TAN", "ACC-BEANIE-MUS", "BOOT-CHELSEA-BLK"],
                                           category=None),))
    outcome = kiosk.handle(sign("SOME"))  # the beanie has no stock in Madrid, the tan boot is not sold there
    assert outcome.kind is OutcomeKind.OFFER and [p.sku for p in outcome.products] == ["BOOT-CHELSEA-BLK"]


@pytest.mark.parametrize(("offer_id", "known", "reason"), [
    ("ENDED", True, "ended on 2026-12-01T11:59:59+00:00"),
    ("LATER", True, "starts on 2026-12-02T12:00:00+00:00"),
    ("BARCELONA", True, "does not run in this store"),
    ("NO-SUCH-OFFER", False, "no offer NO-SUCH-OFFER is known here"),
])
def test_a_sign_of_an_offer_not_on_here_now_says_which_and_why(kiosk: Kiosk, offer_id: str, known: bool,
                                                                 reason: str) -> None:
    outcome = kiosk.handle(sign(offer_id))
    assert outcome.kind is OutcomeKind.OFFER_UNAVAILABLE and outcome.offer_id == offer_id
    assert outcome.offer is (OFFERS.get(offer_id) if known else None) and outcome.products == ()
    assert reason in outcome.reason


def test_an_offer_is_on_from_its_start_until_just_before_its_end(kiosk: Kiosk, wall: Wall) -> None:
    wall.now = NOW - DAY
    assert kiosk.handle(sign("WINTER-BOOTS")).kind is OutcomeKind.OFFER
    wall.now = NOW + DAY
    assert kiosk.handle(sign("WINTER-BOOTS")).kind is OutcomeKind.OFFER_UNAVAILABLE


def test_no_offer_applies_while_the_clock_is_behind_the_newest_signed_time(kiosk: Kiosk, wall: Wall) -> None:
    # The kiosk's clock was set back (a flat clock battery): HQ signed a manifest more than the skew after it.
    kiosk.signed_time = NOW + timedelta(seconds=MAX_CLOCK_SKEW_S + 1)
    assert not kiosk.clock_trusted()
    for offer_id in ("WINTER-BOOTS", "ENDED", "LATER"):
        outcome = kiosk.handle(sign(offer_id))
        assert (outcome.kind, outcome.offer, outcome.offer_id) == (OutcomeKind.OFFER_UNAVAILABLE, None, offer_id)
        assert "clock" in outcome.reason
    boot = kiosk.catalog.product("BOOT-CHELSEA-BLK")
    assert boot is not None and kiosk.offer_price(boot) is None
    wall.now = NOW + timedelta(seconds=1)  # the clock caught up to within the skew: offers apply again
    assert kiosk.clock_trusted() and kiosk.handle(sign("WINTER-BOOTS")).kind is OutcomeKind.OFFER
    assert kiosk.offer_price(boot) is not None


def test_a_clock_within_the_skew_of_the_signed_time_is_trusted(kiosk: Kiosk) -> None:
    assert kiosk.clock_trusted()  # nothing signed seen yet: nothing says the clock is wrong
    kiosk.signed_time = NOW + timedelta(seconds=MAX_CLOCK_SKEW_S)
    assert kiosk.clock_trusted()
    kiosk.signed_time = NOW - 30 * DAY  # far in the past: a kiosk that heard nothing new for a month
    assert kiosk.clock_trusted()


def test_a_sign_of_another_shop_is_refused_counted_and_records_nothing(kiosk: Kiosk) -> None:
    outcome = kiosk.handle(sign("WINTER-BOOTS", shop="https://evil.example"))
    assert outcome.kind is OutcomeKind.UNREADABLE and "evil.example" in outcome.reason
    assert outcome.offer is None and outcome.offer_id == "WINTER-BOOTS"
    assert kiosk.counters.foreign_signs == 1 and recorded(kiosk) == []
    assert kiosk.machine.mode.value == "idle"


def test_a_sign_in_the_offer_mime_form_names_no_host_and_is_taken(kiosk: Kiosk) -> None:
    assert kiosk.handle(decode_tag("01", encode_offer_mime("WINTER-BOOTS"))).kind is OutcomeKind.OFFER
    assert kiosk.counters.foreign_signs == 0


def test_a_malformed_sign_is_an_unreadable_tap(kiosk: Kiosk) -> None:
    outcome = kiosk.handle(decode_tag("01", b"\xd1\x01\x17U\x04shop.example.com/o/bad!"))
    assert outcome.kind is OutcomeKind.UNREADABLE and "not a valid offer id" in outcome.reason
    assert kiosk.counters.unreadable == 1 and recorded(kiosk) == []


def test_each_sign_tap_records_an_offer_tap_anonymous_until_the_shopper_consents(kiosk: Kiosk) -> None:
    first = kiosk.handle(sign("WINTER-BOOTS"))
    kiosk.handle(card("shopper-1"))
    kiosk.handle(sign("ENDED"))
    kiosk.consent(True)
    kiosk.handle(sign("NO-SUCH-OFFER"))
    events = recorded(kiosk)
    assert [(e.kind, e.offer, e.shopper) for e in events] == [
        (EventKind.OFFER_TAP, "WINTER-BOOTS", None), (EventKind.OFFER_TAP, "ENDED", None),
        (EventKind.CONSENT, None, "shopper-1"), (EventKind.OFFER_TAP, "NO-SUCH-OFFER", "shopper-1")]
    assert events[0].event_id == first.event_id and events[0].sku is None
    assert events[-1].card == kiosk.session.card_token and len({e.session for e in events}) == 1
    assert (events[0].store, events[0].kiosk) == (STORE, "kiosk-01")


def test_in_staff_mode_a_sign_is_checked_and_nothing_recorded(kiosk: Kiosk) -> None:
    kiosk.staff_pin_accepted()
    outcome = kiosk.handle(sign("WINTER-BOOTS"))
    assert outcome.kind is OutcomeKind.TAG_CHECKED and outcome.read is not None
    assert outcome.read.offer == "WINTER-BOOTS" and recorded(kiosk) == []
    assert outcome.offer is OFFERS.get("WINTER-BOOTS") and outcome.offer_id == "WINTER-BOOTS"  # staff see which


def test_a_locked_kiosk_takes_no_sign(kiosk: Kiosk) -> None:
    kiosk.machine.lock("staff")
    assert kiosk.handle(sign("WINTER-BOOTS")).kind is OutcomeKind.LOCKED and recorded(kiosk) == []


def test_the_best_of_two_offers_prices_a_product_and_members_offers_need_a_checked_card(kiosk: Kiosk) -> None:
    boot, tan, coat = (kiosk.catalog.product(sku) for sku in ("BOOT-CHELSEA-BLK", "BOOT-CHELSEA-TAN", "COAT-WOOL-GRY"))
    assert boot is not None and tan is not None and coat is not None
    priced = kiosk.offer_price(boot)  # 20% off (71.96) beats 10 off (79.95); the members' 30% is not theirs
    assert priced is not None and (priced.offer.id, priced.price, priced.usual) == (
        "WINTER-BOOTS", Decimal("71.96"), Decimal("89.95"))
    assert kiosk.offer_price(coat) is None
    kiosk.handle(card("shopper-1"))  # a card HQ signed: a member, consented or not
    priced = kiosk.offer_price(boot)
    assert priced is not None and (priced.offer.id, priced.price) == ("MEMBERS-30", Decimal("62.97"))
    tan_priced = kiosk.offer_price(tan)
    assert tan_priced is not None and tan_priced.offer.id == "WINTER-BOOTS"
    assert recorded(kiosk) == []  # pricing records nothing


def test_a_forged_card_makes_no_member(kiosk: Kiosk) -> None:
    forged = TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(Ed25519PrivateKey.generate(), "x", Role.SHOPPER, 60))
    assert kiosk.handle(forged).kind is OutcomeKind.CARD_REJECTED
    boot = kiosk.catalog.product("BOOT-CHELSEA-BLK")
    assert boot is not None and not kiosk.member
    priced = kiosk.offer_price(boot)
    assert priced is not None and priced.offer.id == "WINTER-BOOTS"


def test_a_consenting_member_saves_a_members_offer_once_with_an_hlc(kiosk: Kiosk) -> None:
    tap = card("shopper-1")
    kiosk.handle(tap)
    kiosk.consent(True)
    assert kiosk.save_coupon("MEMBERS-30")
    assert kiosk.save_coupon("MEMBERS-30")  # saved already: true, and nothing more recorded
    assert kiosk.session.coupons == {"MEMBERS-30"}
    [_, saved] = recorded(kiosk)
    assert (saved.kind, saved.offer, saved.shopper, saved.card) == (EventKind.COUPON_SAVE, "MEMBERS-30", "shopper-1",
                                                                     tap.token)
    assert saved.hlc is not None and saved.hlc.endswith("-kiosk-01")


def test_a_coupon_the_profile_holds_already_is_not_saved_again(kiosk: Kiosk) -> None:
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    kiosk.session.coupons.add("MEMBERS-30")  # from HQ's profile
    assert kiosk.save_coupon("MEMBERS-30")
    assert [e.kind for e in recorded(kiosk)] == [EventKind.CONSENT]


@pytest.mark.parametrize(("offer_id", "consent", "why"), [
    ("MEMBERS-30", None, "nobody signed in"),
    ("MEMBERS-30", False, "the shopper said no"),
    ("MEMBERS-30", "pending", "the shopper has not answered"),
    ("WINTER-BOOTS", True, "an offer for everyone is no coupon"),
    ("NO-SUCH-OFFER", True, "unknown"),
])
def test_a_coupon_is_saved_only_for_a_consenting_member_and_a_members_offer(
        kiosk: Kiosk, offer_id: str, consent: bool | str | None, why: str) -> None:
    if consent is not None:
        kiosk.handle(card("shopper-1"))
        if isinstance(consent, bool):
            kiosk.consent(consent)
    assert not kiosk.save_coupon(offer_id), why
    assert kiosk.session.coupons == set()
    assert EventKind.COUPON_SAVE not in {e.kind for e in recorded(kiosk)}


@pytest.mark.parametrize("state", ["ended", "scheduled", "other store", "untrusted clock"])
def test_a_members_offer_not_running_here_now_is_not_saved(kiosk: Kiosk, wall: Wall, state: str) -> None:
    changes: dict[str, Any] = {
        "ended": {"starts": NOW - 2 * DAY, "ends": NOW - DAY},
        "scheduled": {"starts": NOW + DAY, "ends": NOW + 2 * DAY},
        "other store": {"stores": ["barcelona-diagonal"]}, "untrusted clock": {}}[state]
    kiosk.offers = OfferList(offers=(offer("CLUB", audience="members", **changes),))
    if state == "untrusted clock":
        kiosk.signed_time = NOW + 2 * timedelta(seconds=MAX_CLOCK_SKEW_S)
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    assert not kiosk.save_coupon("CLUB") and kiosk.session.coupons == set()


def test_a_coupon_saved_here_stays_when_a_profile_from_before_hq_had_it_arrives(kiosk: Kiosk) -> None:
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    assert kiosk.save_coupon("MEMBERS-30")
    kiosk.take_profile(ProfileResponse(v=3, request_id=uuid.uuid4(), shopper="shopper-1", cursor=1, coupons=[]))
    assert kiosk.session.coupons == {"MEMBERS-30"}
