"""A loyalty card tapped while browsing continues the visit: what the shopper looked at
before stays with it, anonymous until they agree, and joins nothing after a no."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox
from kiosk_app import Kiosk, Mode, OutcomeKind, SessionMachine
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import ConsentStatus, EventKind, Role, TapEvent, decode_event, issue_token, load_catalog
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead
from recommender import Channel, HistoryEvent

HQ = Ed25519PrivateKey.generate()
CATALOG = load_catalog(demo_catalog_path())
BOOT, TOTE, COAT = (CATALOG.products[i].sku for i in (0, 9, 3))


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    return Kiosk(CATALOG, Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                 verify_card=card_verifier(HQ.public_key()))


def product(sku: str) -> TagRead:
    return TagRead(TagKind.PRODUCT, "01", sku=sku)


def card(subject: str) -> TagRead:
    return TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(HQ, subject, Role.SHOPPER, 60))


# A visit's start and end, recorded around every visit, are test_visit_events' subject.
_VISIT_BOUNDS = {EventKind.VISIT_START, EventKind.VISIT_END}


def recorded(kiosk: Kiosk) -> list[TapEvent]:
    events = (decode_event(m.payload, topic=m.topic) for m in kiosk.outbox.pending())
    return [event for event in events if event.kind not in _VISIT_BOUNDS]


def test_a_card_tapped_while_browsing_signs_in_to_the_same_visit() -> None:
    machine = SessionMachine()
    machine.browse()
    browsing = machine.visit
    browsing.viewed.append(HistoryEvent(BOOT, 0, Channel.KIOSK))
    assert machine.card("shopper-1", "token-1") is True
    assert machine.mode is Mode.SIGNED_IN
    assert machine.visit is browsing and machine.visit.viewed_skus == (BOOT,)
    assert (machine.visit.shopper, machine.visit.card_token, machine.visit.identity) == ("shopper-1", "token-1", None)


def test_a_card_on_the_attract_screen_signs_in_to_an_empty_visit() -> None:
    machine = SessionMachine()
    assert machine.card("shopper-1") is True
    assert machine.visit.shopper == "shopper-1" and machine.visit.viewed == []


def test_another_shopper_s_card_takes_nothing_of_the_signed_in_visit() -> None:
    machine = SessionMachine()
    machine.browse()
    machine.card("shopper-1")
    first = machine.visit
    first.viewed.append(HistoryEvent(BOOT, 0, Channel.KIOSK))
    assert machine.card("shopper-2") is True
    assert machine.visit.id != first.id and machine.visit.viewed == [] and machine.visit.shopper == "shopper-2"


def test_the_visit_s_products_are_listed_newest_first_each_once() -> None:
    machine = SessionMachine()
    machine.visit.viewed.extend(HistoryEvent(sku, n, Channel.KIOSK) for n, sku in enumerate((BOOT, TOTE, BOOT, COAT)))
    assert machine.visit.viewed_skus == (COAT, BOOT, TOTE)


def test_a_yes_names_the_visit_the_earlier_views_were_recorded_in(kiosk: Kiosk) -> None:
    kiosk.handle(product(BOOT))
    before = kiosk.session.id
    assert kiosk.handle(card("shopper-1")).kind is OutcomeKind.SIGNED_IN
    kiosk.consent(True)
    kiosk.handle(product(TOTE))
    events = recorded(kiosk)
    assert [(e.kind.value, e.sku, e.shopper, e.consent) for e in events] == [
        ("product_view", BOOT, None, None), ("consent", None, "shopper-1", ConsentStatus.GRANTED),
        ("product_view", TOTE, "shopper-1", None)]
    assert {e.session for e in events} == {before}  # HQ moves the visit's anonymous views at the consent
    assert kiosk.session.viewed_skus == (TOTE, BOOT)


def test_a_no_keeps_the_earlier_and_later_views_anonymous(kiosk: Kiosk) -> None:
    kiosk.handle(product(BOOT))
    kiosk.handle(card("shopper-1"))
    kiosk.consent(False)
    kiosk.handle(product(TOTE))
    assert [(e.kind.value, e.shopper, e.consent) for e in recorded(kiosk)] == [
        ("product_view", None, None), ("consent", "shopper-1", ConsentStatus.DENIED), ("product_view", None, None)]
    assert kiosk.session.identity is None
