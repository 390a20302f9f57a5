"""What a tap does, without a screen, a reader or a broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox
from kiosk_app import Kiosk, OutcomeKind
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import ConsentStatus, EventKind, Role, decode_event, issue_token, load_catalog
from kiosk_protocol._cards import card_verifier
from kiosk_protocol.contract import EVENT_VERSION
from nfc_reader import TagKind, TagRead

HQ = Ed25519PrivateKey.generate()
SKU = load_catalog(demo_catalog_path()).products[0].sku


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    return Kiosk(load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                 verify_card=card_verifier(HQ.public_key()))


def product(sku: str) -> TagRead:
    return TagRead(TagKind.PRODUCT, "01", sku=sku)


def card(subject: str, key: Ed25519PrivateKey = HQ) -> TagRead:
    return TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(key, subject, Role.SHOPPER, 60))


# A visit's start and end, recorded around every visit, are test_visit_events' subject.
_VISIT_BOUNDS = {EventKind.VISIT_START, EventKind.VISIT_END}


def recorded(kiosk: Kiosk) -> list:  # type: ignore[type-arg]
    events = (decode_event(m.payload, topic=m.topic) for m in kiosk.outbox.pending())
    return [event for event in events if event.kind not in _VISIT_BOUNDS]


def test_product_tap_shows_product_and_records_an_anonymous_view(kiosk: Kiosk) -> None:
    outcome = kiosk.handle(product(SKU))
    assert outcome.kind is OutcomeKind.PRODUCT and outcome.product is not None
    assert outcome.product.sku == SKU
    [event] = recorded(kiosk)
    assert (event.event_id, event.sku, event.shopper, event.session) == (outcome.event_id, SKU, None, kiosk.session.id)
    assert (event.store, event.kiosk, event.seq) == ("madrid-centro", "kiosk-01", 2)  # after the visit's start


def test_unknown_sku_and_unreadable_tags_record_nothing(kiosk: Kiosk) -> None:
    assert kiosk.handle(product("NOT-IN-CATALOG")).kind is OutcomeKind.UNKNOWN_PRODUCT
    assert kiosk.handle(TagRead.unreadable("03", "malformed NDEF")).kind is OutcomeKind.UNREADABLE
    assert recorded(kiosk) == []
    assert (kiosk.counters.unknown_products, kiosk.counters.unreadable, kiosk.counters.taps) == (1, 1, 2)


def test_card_signs_in_and_events_carry_the_shopper_only_after_consent(kiosk: Kiosk) -> None:
    assert kiosk.handle(card("shopper-1")).kind is OutcomeKind.SIGNED_IN
    kiosk.handle(product(SKU))
    kiosk.consent(True)
    kiosk.handle(product(SKU))
    events = recorded(kiosk)
    assert [(e.kind.value, e.shopper) for e in events] == [
        ("product_view", None), ("consent", "shopper-1"), ("product_view", "shopper-1")]
    assert events[1].consent is ConsentStatus.GRANTED and len({e.session for e in events}) == 1


def test_events_naming_the_shopper_carry_the_card_read_in_the_visit(kiosk: Kiosk) -> None:
    tap = card("shopper-1")
    kiosk.handle(tap)
    kiosk.handle(product(SKU))
    kiosk.consent(True)
    kiosk.handle(product(SKU))
    assert kiosk.set_wishlist(SKU, True)
    assert [(e.v, e.shopper, e.card) for e in recorded(kiosk)] == [  # the card: HQ proof the shopper was here
        (EVENT_VERSION, None, None), *[(EVENT_VERSION, "shopper-1", tap.token)] * 3]


def test_a_no_is_recorded_and_keeps_the_visit_anonymous(kiosk: Kiosk) -> None:
    kiosk.handle(card("shopper-1"))
    kiosk.consent(False)
    kiosk.handle(product(SKU))
    assert [(e.kind.value, e.shopper, e.consent) for e in recorded(kiosk)] == [
        ("consent", "shopper-1", ConsentStatus.DENIED), ("product_view", None, None)]
    assert kiosk.set_wishlist(SKU, True) is False  # no profile to change without consent


def test_wishlist_changes_need_a_consenting_shopper_and_are_hlc_stamped(kiosk: Kiosk) -> None:
    assert kiosk.set_wishlist(SKU, True) is False  # anonymous
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    assert kiosk.set_wishlist(SKU, True) and kiosk.set_wishlist(SKU, False)
    assert not kiosk.set_wishlist("NOT-IN-CATALOG", True)
    add, remove = [e for e in recorded(kiosk) if e.kind.value.startswith("wishlist")]
    assert (add.kind, remove.kind) == (EventKind.WISHLIST_ADD, EventKind.WISHLIST_REMOVE)
    assert add.hlc is not None and remove.hlc is not None and remove.hlc > add.hlc


def test_same_card_again_signs_out_and_starts_a_new_session(kiosk: Kiosk) -> None:
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    session = kiosk.session.id
    assert kiosk.handle(card("shopper-1")).kind is OutcomeKind.SIGNED_OUT
    assert kiosk.session.shopper is None and kiosk.session.id != session
    kiosk.handle(product(SKU))
    assert recorded(kiosk)[-1].shopper is None  # after sign-out, views are anonymous again


def test_forged_card_is_rejected(kiosk: Kiosk) -> None:
    outcome = kiosk.handle(card("shopper-1", key=Ed25519PrivateKey.generate()))
    assert outcome.kind is OutcomeKind.CARD_REJECTED and "signature" in outcome.reason
    assert kiosk.session.shopper is None and kiosk.counters.rejected_cards == 1


def test_full_outbox_keeps_the_newest_anonymous_views_and_still_shows_the_product(tmp_path: Path) -> None:
    kiosk = Kiosk(load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite", max_rows=1), "madrid-centro",
                  "kiosk-01", verify_card=lambda token: token)
    kiosk.handle(product(SKU))
    outcome = kiosk.handle(product(SKU))
    assert outcome.kind is OutcomeKind.PRODUCT
    assert [e.event_id for e in recorded(kiosk)] == [outcome.event_id]
    assert kiosk.outbox.dropped == 2  # the visit's start, then the first view


def test_consented_views_are_never_dropped(tmp_path: Path) -> None:
    kiosk = Kiosk(load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite", max_rows=1), "madrid-centro",
                  "kiosk-01", verify_card=card_verifier(HQ.public_key()))
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    kiosk.handle(product(SKU))
    kiosk.handle(product(SKU))
    assert [e.shopper for e in recorded(kiosk)] == ["shopper-1", "shopper-1", "shopper-1"]  # consent + 2 views


def test_a_product_tap_comes_with_suggestions_in_stock_here_and_explained(tmp_path: Path) -> None:
    from kiosk_app._catalog_features import item_features
    from recommender import ReasonKind, build_model

    catalog = load_catalog(demo_catalog_path())
    kiosk = Kiosk(catalog, Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                  verify_card=card_verifier(HQ.public_key()), recommender=build_model(item_features(catalog)))
    outcome = kiosk.handle(product("BOOT-CHELSEA-BLK"))
    skus = [s.item_id for s in outcome.suggestions]
    assert 0 < len(skus) <= 4 and "BOOT-CHELSEA-BLK" not in skus
    assert all(any(catalog.product(sku).stock_in("madrid-centro").values()) for sku in skus)  # type: ignore[union-attr]
    assert skus[0] == "BOOT-CHELSEA-TAN"  # the other Chelsea boot is the nearest neighbour
    assert outcome.suggestions[0].reason.kind in (ReasonKind.TAPPED_HERE, ReasonKind.SIMILAR)


def test_a_product_this_store_does_not_carry_is_not_shown(tmp_path: Path) -> None:
    catalog = load_catalog(demo_catalog_path())
    beanie = catalog.product("ACC-BEANIE-MUS")
    assert beanie is not None
    only_barcelona = catalog.model_copy(update={"products": tuple(
        p.model_copy(update={"stores": ("barcelona-diagonal",)}) if p.sku == beanie.sku else p
        for p in catalog.products)})
    kiosk = Kiosk(only_barcelona, Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                  verify_card=card_verifier(HQ.public_key()))
    assert kiosk.handle(product(beanie.sku)).kind is OutcomeKind.UNKNOWN_PRODUCT
    assert kiosk.handle(product(SKU)).kind is OutcomeKind.PRODUCT


def test_a_touched_suggestion_shows_its_product_and_records_a_suggestion_tap_beside_the_one_in_view(
    kiosk: Kiosk,
) -> None:
    beside, touched = SKU, load_catalog(demo_catalog_path()).products[1].sku
    kiosk.handle(product(beside))
    outcome = kiosk.touch_suggestion(touched, beside=beside)
    assert outcome.kind is OutcomeKind.PRODUCT and outcome.product is not None and outcome.product.sku == touched
    view, touch = recorded(kiosk)
    assert (view.kind, touch.kind) == (EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP)
    assert (touch.event_id, touch.sku, touch.beside, touch.v) == (outcome.event_id, touched, beside, EVENT_VERSION)
    assert (touch.shopper, touch.card, touch.session) == (None, None, view.session)  # anonymous without consent
    assert [e.item_id for e in kiosk.session.viewed] == [beside, touched]  # the next suggestions know of it
    assert kiosk.counters.taps == 1  # a touch on the screen is no tag tap


def test_a_touched_suggestion_names_the_shopper_only_after_consent(kiosk: Kiosk) -> None:
    beside, touched = SKU, load_catalog(demo_catalog_path()).products[1].sku
    tap = card("shopper-1")
    kiosk.handle(tap)
    kiosk.touch_suggestion(touched, beside=beside)
    kiosk.consent(True)
    kiosk.touch_suggestion(touched, beside=beside)
    assert [(e.kind, e.shopper, e.card) for e in recorded(kiosk)] == [
        (EventKind.SUGGESTION_TAP, None, None), (EventKind.CONSENT, "shopper-1", tap.token),
        (EventKind.SUGGESTION_TAP, "shopper-1", tap.token)]


def test_a_touch_on_a_product_gone_from_the_catalog_records_nothing(kiosk: Kiosk) -> None:
    assert kiosk.touch_suggestion("NOT-IN-CATALOG", beside=SKU).kind is OutcomeKind.UNKNOWN_PRODUCT
    assert recorded(kiosk) == []
