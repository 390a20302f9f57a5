"""The visit state machine, the staff PIN and the kiosk's staff and lock handling, without
Kivy: idle -> browsing -> signed in -> idle, wipes, timeouts, staff mode and locks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox
from kiosk_app import Kiosk, Mode, OutcomeKind, SessionMachine
from kiosk_app.cli import main
from kiosk_app.demo import demo_catalog_path
from kiosk_app.exceptions import PinError
from kiosk_app.staff import PinVerdict, StaffPin, pin_file, write_pin
from kiosk_protocol import EventKind, Role, decode_event, issue_token, load_catalog
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead
from recommender import Channel, HistoryEvent
from testkit.clock import ManualClock

HQ = Ed25519PrivateKey.generate()
SKU = load_catalog(demo_catalog_path()).products[0].sku


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def machine(clock: ManualClock) -> SessionMachine:
    return SessionMachine(idle_timeout_s=60, staff_timeout_s=120, clock=clock)


def test_a_visit_goes_idle_browsing_signed_in_and_back_on_the_same_card(machine: SessionMachine) -> None:
    assert machine.mode is Mode.IDLE
    machine.browse()
    assert machine.mode is Mode.BROWSING
    assert machine.card("shopper-1") is True
    assert machine.mode is Mode.SIGNED_IN and machine.visit.shopper == "shopper-1"
    assert machine.card("shopper-1") is False  # the same card again signs out
    assert machine.mode is Mode.IDLE and machine.visit.shopper is None


def test_the_idle_timeout_wipes_the_visit_from_memory(machine: SessionMachine, clock: ManualClock) -> None:
    machine.card("shopper-1")
    machine.visit.consented = True
    machine.visit.viewed.append(HistoryEvent(SKU, 0, Channel.KIOSK))
    machine.visit.wishlist.add(SKU)
    first_visit = machine.visit.id
    clock.now += 59
    assert machine.expire() is False and machine.seconds_left() == pytest.approx(1)
    clock.now += 1
    assert machine.expire() is True
    assert machine.mode is Mode.IDLE
    visit = machine.visit
    assert (visit.shopper, visit.consented, visit.viewed, visit.synced, visit.wishlist) == (None, False, [], [], set())
    assert visit.id != first_visit


def test_activity_restarts_the_countdown_and_idle_never_times_out(machine: SessionMachine, clock: ManualClock) -> None:
    assert machine.seconds_left() is None  # nothing to wipe in the attract loop
    machine.browse()
    clock.now += 50
    machine.touch()
    clock.now += 50
    assert machine.expire() is False
    clock.now += 10
    assert machine.expire() is True


def test_another_shopper_s_card_starts_a_fresh_visit(machine: SessionMachine) -> None:
    machine.card("shopper-1")
    machine.visit.viewed.append(HistoryEvent(SKU, 0, Channel.KIOSK))
    assert machine.card("shopper-2") is True
    assert machine.visit.shopper == "shopper-2" and machine.visit.viewed == []


def test_staff_mode_starts_empty_times_out_later_and_returns_to_idle(machine: SessionMachine,
                                                                     clock: ManualClock) -> None:
    machine.card("shopper-1")
    machine.enter_staff("staff-7")
    assert machine.mode is Mode.STAFF and machine.visit.shopper is None
    assert not machine.takes_shopper_taps
    with pytest.raises(ValueError, match="staff"):
        machine.browse()
    clock.now += 119
    assert machine.expire() is False
    clock.now += 1
    assert machine.expire() is True
    assert machine.mode is Mode.IDLE and machine.staff_member is None


def test_a_lock_holds_through_staff_mode_until_unlocked(machine: SessionMachine, clock: ManualClock) -> None:
    machine.card("shopper-1")
    machine.lock("hq")
    assert machine.mode is Mode.LOCKED and machine.visit.shopper is None
    clock.now += 10_000
    assert machine.expire() is False  # out of service does not time out
    machine.enter_staff("staff-7")
    machine.leave_staff()
    assert machine.mode is Mode.LOCKED
    machine.enter_staff("staff-7")
    machine.unlock()
    assert machine.mode is Mode.STAFF  # staff finish their work first
    machine.leave_staff()
    assert machine.mode is Mode.IDLE


@pytest.fixture
def kiosk(tmp_path: Path, clock: ManualClock) -> Kiosk:
    return Kiosk(load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                 verify_card=card_verifier(HQ.public_key()), verify_badge=card_verifier(HQ.public_key(), Role.STAFF),
                 machine=SessionMachine(clock=clock))


def badge(subject: str, role: Role = Role.STAFF, key: Ed25519PrivateKey = HQ) -> TagRead:
    return TagRead(TagKind.STAFF_BADGE, "03", token=issue_token(key, subject, role, 7 * 24 * 3600))


def product(sku: str) -> TagRead:
    return TagRead(TagKind.PRODUCT, "01", sku=sku)


def test_a_valid_badge_opens_staff_mode_and_the_same_badge_closes_it(kiosk: Kiosk) -> None:
    assert kiosk.handle(badge("staff-7")).kind is OutcomeKind.STAFF_SIGNED_IN
    assert kiosk.machine.mode is Mode.STAFF
    assert kiosk.handle(badge("staff-7")).kind is OutcomeKind.STAFF_SIGNED_OUT
    assert kiosk.machine.mode is Mode.IDLE


@pytest.mark.parametrize("forged", [
    badge("staff-7", key=Ed25519PrivateKey.generate()),
    badge("shopper-1", Role.SHOPPER),
    TagRead(TagKind.STAFF_BADGE, "03", token="not-a-token"),
])
def test_forged_or_shopper_badges_do_not_open_staff_mode(kiosk: Kiosk, forged: TagRead) -> None:
    outcome = kiosk.handle(forged)
    assert outcome.kind is OutcomeKind.BADGE_REJECTED and outcome.reason
    assert kiosk.machine.mode is Mode.IDLE and kiosk.counters.rejected_badges == 1


def test_in_staff_mode_a_product_tag_is_checked_and_nothing_is_recorded(kiosk: Kiosk) -> None:
    kiosk.handle(badge("staff-7"))
    outcome = kiosk.handle(product(SKU))
    assert outcome.kind is OutcomeKind.TAG_CHECKED
    assert outcome.read is not None and outcome.read.sku == SKU
    assert outcome.product is not None and outcome.product.sku == SKU
    assert len(kiosk.outbox) == 0 and kiosk.session.viewed == []


def test_a_locked_kiosk_takes_no_shopper_taps_but_opens_for_staff(kiosk: Kiosk) -> None:
    kiosk.machine.lock("staff")
    assert kiosk.handle(product(SKU)).kind is OutcomeKind.LOCKED
    assert len(kiosk.outbox) == 0
    assert kiosk.handle(badge("staff-7")).kind is OutcomeKind.STAFF_SIGNED_IN


def test_the_pin_is_checked_against_its_hash_and_wrong_tries_close_the_pad(tmp_path: Path, clock: ManualClock) -> None:
    path = pin_file(tmp_path)
    write_pin(path, "2468")
    assert "2468" not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    pin = StaffPin(path, clock=clock, max_tries=3, lockout_s=300)
    assert pin.check("2468").verdict is PinVerdict.ACCEPTED
    assert pin.check("1111").tries_left == 2
    assert pin.check("12ab").tries_left == 1
    closed = pin.check("0000")
    assert closed.verdict is PinVerdict.LOCKED_OUT and closed.wait_s == 300
    assert pin.check("2468").verdict is PinVerdict.LOCKED_OUT  # even the right PIN waits
    clock.now += 300
    assert pin.check("2468").verdict is PinVerdict.ACCEPTED


def test_no_pin_file_means_badges_only_and_a_broken_one_says_so(tmp_path: Path) -> None:
    assert StaffPin(tmp_path / "none.json").check("2468").verdict is PinVerdict.NOT_SET
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(PinError, match="set the PIN again"):
        StaffPin(broken)
    with pytest.raises(PinError, match="4 to 8 digits"):
        write_pin(tmp_path / "p.json", "12")


def test_staff_pin_command_sets_the_pin_and_refuses_a_short_one(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["staff-pin", "--data-dir", str(tmp_path), "--pin", "97531"])
    assert result.exit_code == 0, result.output
    assert StaffPin(pin_file(tmp_path)).check("97531").verdict is PinVerdict.ACCEPTED
    short = runner.invoke(main, ["staff-pin", "--data-dir", str(tmp_path), "--pin", "12"])
    assert short.exit_code != 0 and "4 to 8 digits" in short.output


def test_the_pin_opens_staff_mode_naming_no_one_and_the_screen_closes_it(kiosk: Kiosk) -> None:
    kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(HQ, "shopper-1", Role.SHOPPER, 60)))
    opened = kiosk.staff_pin_accepted()
    assert (opened.kind, opened.staff, opened.shopper) == (OutcomeKind.STAFF_SIGNED_IN, None, None)
    assert kiosk.machine.mode is Mode.STAFF and kiosk.machine.staff_member is None
    assert kiosk.session.shopper is None  # staff never see the shopper's visit
    assert kiosk.handle(product(SKU)).kind is OutcomeKind.TAG_CHECKED
    assert kiosk.touch_suggestion(SKU, beside=SKU).kind is OutcomeKind.NOT_HANDLED  # no shopper's touch in staff mode
    closed = kiosk.leave_staff()
    assert (closed.kind, closed.staff) == (OutcomeKind.STAFF_SIGNED_OUT, None)
    assert kiosk.machine.mode is Mode.IDLE
    # Staff's taps record nothing: only the shopper's visit, which staff mode ended.
    assert [decode_event(m.payload).kind for m in kiosk.outbox.pending()] == [EventKind.VISIT_START,
                                                                              EventKind.VISIT_END]
    assert kiosk.leave_staff().kind is OutcomeKind.NOT_HANDLED  # not in staff mode any more


def test_a_badge_s_outcomes_name_the_staff_member_not_a_shopper(kiosk: Kiosk) -> None:
    opened = kiosk.handle(badge("staff-7"))
    assert (opened.staff, opened.shopper) == ("staff-7", None)
    closed = kiosk.leave_staff()
    assert (closed.kind, closed.staff, closed.shopper) == (OutcomeKind.STAFF_SIGNED_OUT, "staff-7", None)
