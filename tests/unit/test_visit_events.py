"""What the kiosk records for analytics, without a screen, a reader or a broker: a visit's
start at its first tap and its end however it ends, with its length by the monotonic clock;
the suggestions put on screen; the hand-off to the phone, once per visit. Each is anonymous
unless the shopper agreed to link the visit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox
from kiosk_app import Kiosk, SessionMachine
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import (
    LONGEST_VISIT_S,
    MAX_SHOWN,
    EventKind,
    Role,
    TapEvent,
    decode_event,
    issue_token,
    load_catalog,
)
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead
from testkit.clock import ManualClock

HQ = Ed25519PrivateKey.generate()
CATALOG = load_catalog(demo_catalog_path())
SKU, OTHER_SKU = CATALOG.products[0].sku, CATALOG.products[1].sku
START, END = EventKind.VISIT_START, EventKind.VISIT_END


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(5000.0)


@pytest.fixture
def kiosk(tmp_path: Path, clock: ManualClock) -> Kiosk:
    return Kiosk(CATALOG, Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                 verify_card=card_verifier(HQ.public_key()), verify_badge=card_verifier(HQ.public_key(), Role.STAFF),
                 machine=SessionMachine(idle_timeout_s=60, staff_timeout_s=120, clock=clock))


def product(sku: str = SKU) -> TagRead:
    return TagRead(TagKind.PRODUCT, "01", sku=sku)


def card(subject: str) -> TagRead:
    return TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(HQ, subject, Role.SHOPPER, 600))


def badge(member: str) -> TagRead:
    return TagRead(TagKind.STAFF_BADGE, "03", token=issue_token(HQ, member, Role.STAFF, 600))


def recorded(kiosk: Kiosk) -> list[TapEvent]:
    return [decode_event(m.payload, topic=m.topic) for m in kiosk.outbox.pending()]


def test_a_visit_starts_at_its_first_tap_before_the_view_and_later_taps_start_nothing(kiosk: Kiosk) -> None:
    kiosk.handle(product())
    kiosk.handle(product(OTHER_SKU))
    start, first, second = recorded(kiosk)
    assert (start.kind, first.kind, second.kind) == (START, EventKind.PRODUCT_VIEW, EventKind.PRODUCT_VIEW)
    assert (start.session, start.shopper, start.card, start.seq) == (kiosk.session.id, None, None, 1)


def test_taps_that_show_nothing_start_no_visit(kiosk: Kiosk) -> None:
    kiosk.handle(product("NOT-IN-CATALOG"))
    kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(Ed25519PrivateKey.generate(), "s-1",
                                                                         Role.SHOPPER, 600)))  # forged
    kiosk.handle(TagRead.unreadable("04", "malformed NDEF"))
    kiosk.end_session()  # nothing to end either
    assert recorded(kiosk) == []


def _idle_out(kiosk: Kiosk, clock: ManualClock) -> None:
    clock.now += 60
    assert kiosk.machine.expire()


# Each way a visit ends, and what it does.
ENDINGS: dict[str, Callable[[Kiosk, ManualClock], object]] = {
    "the same card again": lambda kiosk, clock: kiosk.handle(card("shopper-1")),
    "the idle timeout": _idle_out,
    "staff's badge": lambda kiosk, clock: kiosk.handle(badge("staff-7")),
    "staff's PIN": lambda kiosk, clock: kiosk.staff_pin_accepted(),
    "a lock": lambda kiosk, clock: kiosk.machine.lock("hq"),
    "sign-out on the screen": lambda kiosk, clock: kiosk.end_session(),
}


@pytest.mark.parametrize("way", ENDINGS)
def test_a_visit_ends_however_it_ends_with_its_seconds_by_the_monotonic_clock(
        kiosk: Kiosk, clock: ManualClock, way: str) -> None:
    kiosk.handle(card("shopper-1"))
    visit = kiosk.session.id
    clock.now += 42.4
    kiosk.handle(product())
    ENDINGS[way](kiosk, clock)
    events = recorded(kiosk)
    assert [e.kind for e in events] == [START, EventKind.PRODUCT_VIEW, END]
    ended = events[-1]
    assert (ended.session, ended.shopper, ended.card) == (visit, None, None)  # no consent: anonymous
    assert ended.dwell_s == (102 if way == "the idle timeout" else 42)
    assert kiosk.session.id != visit and kiosk.session.started_at is None
    kiosk.leave_staff()
    kiosk.machine.unlock()
    assert [e.kind for e in recorded(kiosk)].count(END) == 1  # staff's own visit and the lock record none


def test_another_card_ends_one_visit_and_starts_the_next(kiosk: Kiosk, clock: ManualClock) -> None:
    kiosk.handle(card("shopper-1"))
    first = kiosk.session.id
    clock.now += 7
    kiosk.handle(card("shopper-2"))
    events = recorded(kiosk)
    assert [(e.kind, e.session, e.dwell_s) for e in events] == [
        (START, first, None), (END, first, 7), (START, kiosk.session.id, None)]
    assert kiosk.session.id != first


def test_a_visit_the_shopper_linked_ends_under_their_name_with_their_card(kiosk: Kiosk, clock: ManualClock) -> None:
    tap = card("shopper-1")
    kiosk.handle(tap)
    kiosk.consent(True)
    clock.now += 30
    kiosk.handle(tap)  # signs out
    start, consent, end = recorded(kiosk)
    assert (start.kind, start.shopper) == (START, None)  # before the yes
    assert (consent.kind, end.kind) == (EventKind.CONSENT, END)
    assert (end.shopper, end.card, end.session, end.dwell_s) == ("shopper-1", tap.token, start.session, 30)


def test_a_visit_whose_shopper_is_erased_ends_without_their_name(kiosk: Kiosk) -> None:
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    kiosk.end_session(erased=True)
    end = recorded(kiosk)[-1]
    assert (end.kind, end.shopper, end.card) == (END, None, None)


def test_a_visit_longer_than_a_day_ends_at_the_longest_a_visit_may_say(kiosk: Kiosk, clock: ManualClock) -> None:
    kiosk.handle(product())
    for _ in range(30):  # a shopper who never lets the countdown run out
        clock.now += 3600
        kiosk.machine.touch()
    kiosk.end_session()
    assert recorded(kiosk)[-1].dwell_s == LONGEST_VISIT_S


def test_suggestions_shown_are_recorded_in_screen_order_beside_the_product_each_once(kiosk: Kiosk) -> None:
    kiosk.handle(product())
    shown = [p.sku for p in CATALOG.products[1:5]]
    event_id = kiosk.suggestions_shown(SKU, [*shown, shown[0]])
    event = recorded(kiosk)[-1]
    assert (event.event_id, event.kind, event.beside, event.shown) == (
        event_id, EventKind.SUGGESTION_SHOWN, SKU, tuple(shown))
    assert (event.shopper, event.session) == (None, kiosk.session.id)
    many = [p.sku for p in CATALOG.products[:MAX_SHOWN + 3]]
    kiosk.suggestions_shown(SKU, many)
    assert recorded(kiosk)[-1].shown == tuple(many[:MAX_SHOWN])  # no screen shows more


def test_suggestions_shown_name_the_shopper_only_after_consent(kiosk: Kiosk) -> None:
    tap = card("shopper-1")
    kiosk.handle(tap)
    kiosk.suggestions_shown(SKU, [OTHER_SKU])
    kiosk.consent(True)
    kiosk.suggestions_shown(SKU, [OTHER_SKU])
    shown = [(e.shopper, e.card) for e in recorded(kiosk) if e.kind is EventKind.SUGGESTION_SHOWN]
    assert shown == [(None, None), ("shopper-1", tap.token)]


def test_no_suggestion_or_no_shopper_s_visit_records_no_impression(kiosk: Kiosk) -> None:
    assert kiosk.suggestions_shown(SKU, [OTHER_SKU]) is None  # the attract loop: no visit
    kiosk.handle(product())
    assert kiosk.suggestions_shown(SKU, []) is None
    kiosk.staff_pin_accepted()
    assert kiosk.suggestions_shown(SKU, [OTHER_SKU]) is None
    assert EventKind.SUGGESTION_SHOWN not in [e.kind for e in recorded(kiosk)]


def test_the_hand_off_is_recorded_once_per_visit(kiosk: Kiosk) -> None:
    assert kiosk.handoff_shown() is None  # no visit yet
    kiosk.handle(product())
    first = kiosk.handoff_shown()
    assert first is not None and kiosk.handoff_shown() is None  # the same code shown again
    kiosk.end_session()
    kiosk.handle(card("shopper-1"))
    kiosk.consent(True)
    assert kiosk.handoff_shown() is not None  # the next visit's own
    handoffs = [e for e in recorded(kiosk) if e.kind is EventKind.HANDOFF]
    assert [(e.event_id == first, e.shopper) for e in handoffs] == [(True, None), (False, "shopper-1")]


def test_a_full_outbox_loses_an_anonymous_visit_s_events_but_never_the_tap(tmp_path: Path, clock: ManualClock) -> None:
    kiosk = Kiosk(CATALOG, Outbox(tmp_path / "o.sqlite", max_rows=1), "madrid-centro", "kiosk-01",
                  verify_card=card_verifier(HQ.public_key()), machine=SessionMachine(clock=clock))
    outcome = kiosk.handle(product())
    assert outcome.product is not None and outcome.product.sku == SKU
    assert [e.kind for e in recorded(kiosk)] == [EventKind.PRODUCT_VIEW]  # the newest, the start dropped
    assert kiosk.outbox.dropped == 1
