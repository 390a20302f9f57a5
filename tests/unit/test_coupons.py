"""Coupons at HQ over a real SQLite store: saved by coupon_save changes merged by HLC, refused
for unknown, ended or members' offers a shopper may not save, redeemed never beyond the
offer's limit, erased with the profile; their changes in the log, the push contract's
version rule, and the kiosk's copy of them."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hq import ProfilePusher, ProfileStore
from hq._coupons import Coupon, CouponRefused, save_refusal
from hq._store import CardVisit
from kiosk_app._live_profile import ChangeVerdict, take_change, take_profile
from kiosk_app.session import Visit
from kiosk_protocol import (
    ChangeKind,
    ContractError,
    EventKind,
    Hlc,
    Offer,
    ProfileChange,
    ProfileResponse,
    decode,
    new_event,
)
from testkit.waiting import eventually

SHOPPER = "shopper-0042"
KEY = f"shopper:{SHOPPER}"
STORE, KIOSK = "madrid-centro", "kiosk-01"
NOW = datetime.now(UTC)


def offer(offer_id: str, starts: timedelta = timedelta(days=-1), ends: timedelta = timedelta(days=1),
          **fields: object) -> Offer:
    return Offer.model_validate({"id": offer_id, "title": {"es": "Botas", "en": "Boots"},
                                 "terms": {"es": "Una vez", "en": "Once"}, "discount": {"kind": "percent", "value": 20},
                                 "skus": ["BOOT-1"], "stores": [STORE], "starts": (NOW + starts).isoformat(),
                                 "ends": (NOW + ends).isoformat(), **fields})


OFFERS = [offer("WINTER-BOOTS"), offer("TWICE", per_shopper=2), offer("MEMBERS", audience="members"),
          offer("ENDED", starts=timedelta(days=-3), ends=timedelta(days=-2)),
          offer("LATER", starts=timedelta(days=2), ends=timedelta(days=3))]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProfileStore]:
    store = ProfileStore(f"sqlite:///{tmp_path / 'hq.sqlite'}")
    store.offers.merge(OFFERS)
    yield store
    store.close()


_seq = iter(range(1, 10**6))


def save(store: ProfileStore, offer_id: str, wall_ms: int | None = None, with_card: bool = True,
         at: datetime | None = None) -> set[str]:
    """A coupon saved at a kiosk, from a visit whose card HQ checked (unless not ``with_card``)."""
    session = uuid.uuid4()
    event = new_event(kind=EventKind.COUPON_SAVE, store=STORE, kiosk=KIOSK, seq=next(_seq), session=session,
                      shopper=SHOPPER, offer=offer_id, hlc=str(Hlc(wall_ms or int(NOW.timestamp() * 1000), 0, KIOSK)),
                      at=at or NOW)
    visits = [CardVisit(str(session), STORE, KIOSK, SHOPPER)] if with_card else []
    return store.record_many([event], new_visits=visits)


def saved(store: ProfileStore) -> list[str]:
    return [c.offer_id for c in store.coupons.of(KEY)]


def feed(store: ProfileStore) -> list[tuple[str, Mapping[str, str]]]:
    return [(c.kind, c.fields) for c in store.changes.page(0, 100)]


@contextlib.contextmanager
def refused(code: str) -> Iterator[None]:
    with pytest.raises(CouponRefused) as caught:
        yield
    assert caught.value.error == code, caught.value.detail


def test_a_kiosk_s_save_is_a_coupon_once_and_listed_once(store: ProfileStore) -> None:
    wall = int(NOW.timestamp() * 1000)
    save(store, "WINTER-BOOTS", wall)
    save(store, "WINTER-BOOTS", wall + 5000)  # saved again later: changes nothing
    assert saved(store) == ["WINTER-BOOTS"]
    assert feed(store) == [("coupon_saved", {"offer": "WINTER-BOOTS", "hlc": str(Hlc(wall, 0, KIOSK))})]
    [coupon] = store.coupons.of(KEY)
    assert (coupon.channel, coupon.used, coupon.left, coupon.state(NOW)) == (f"kiosk:{KIOSK}", 0, 1, "running")
    assert store.newest_hlc(SHOPPER) == str(Hlc(wall, 0, KIOSK))  # the API stamps its changes after it


def test_the_earliest_save_by_hlc_stands_whatever_order_saves_arrive_in(store: ProfileStore) -> None:
    wall = int(NOW.timestamp() * 1000)
    save(store, "TWICE", wall + 5000)
    save(store, "TWICE", wall)  # an earlier save, from a kiosk that was offline
    assert [stamp for _, fields in feed(store) if (stamp := fields.get("hlc"))] == [
        str(Hlc(wall + 5000, 0, KIOSK)), str(Hlc(wall, 0, KIOSK))]
    assert [c.saved_at for c in store.coupons.of(KEY)] == [NOW]  # the earlier save's
    assert store.newest_hlc(SHOPPER) == str(Hlc(wall, 0, KIOSK))


@pytest.mark.parametrize(("offer_id", "with_card", "at", "reason"), [
    ("NO-SUCH-OFFER", True, NOW, "unknown_offer"),
    ("ENDED", True, NOW, "offer_ended"),
    ("WINTER-BOOTS", True, NOW + timedelta(days=2), "offer_ended"),  # saved (offline) after its end
    ("MEMBERS", False, NOW, "members_only"),  # no card of theirs checked by HQ
])
def test_a_save_the_rules_refuse_is_kept_as_an_event_and_makes_no_coupon(
        store: ProfileStore, offer_id: str, with_card: bool, at: datetime, reason: str) -> None:
    [event_id] = save(store, offer_id, with_card=with_card, at=at)
    assert saved(store) == [] and feed(store) == []
    assert store.merge.refused_coupon_saves == {reason: 1}
    [event] = store.history(KEY)
    assert (event.event_id, event.kind, event.detail) == (event_id, "coupon_save", offer_id)


def test_a_member_is_a_shopper_whose_card_hq_has_checked(store: ProfileStore) -> None:
    assert not store.coupons.member(KEY)
    save(store, "MEMBERS")  # a kiosk's save comes from a visit whose card HQ checked
    assert store.coupons.member(KEY) and saved(store) == ["MEMBERS"]
    members = offer("MEMBERS", audience="members")
    assert save_refusal(members, "MEMBERS", NOW, member=True) is None
    refusal = save_refusal(members, "MEMBERS", NOW, member=False)
    assert refusal is not None and (refusal.status, refusal.error) == (403, "members_only")


def test_a_sign_tap_s_offer_is_the_event_s_detail(store: ProfileStore) -> None:
    session = uuid.uuid4()
    store.record(new_event(kind=EventKind.OFFER_TAP, store=STORE, kiosk=KIOSK, seq=next(_seq), session=session,
                           shopper=None, offer="WINTER-BOOTS"))
    [event] = store.history(f"session:{session}")
    assert (event.kind, event.detail) == ("offer_tap", "WINTER-BOOTS")


def test_a_coupon_is_redeemed_once_and_a_retry_gets_the_same_redemption(store: ProfileStore) -> None:
    save(store, "WINTER-BOOTS")
    first = store.coupons.redeem(SHOPPER, KEY, "WINTER-BOOTS", "till-7-receipt-1", "pos")
    assert (first.number, first.left, first.channel) == (1, 0, "pos")
    assert store.coupons.redeem(SHOPPER, KEY, "WINTER-BOOTS", "till-7-receipt-1", "pos") == first
    with refused("already_redeemed"):
        store.coupons.redeem(SHOPPER, KEY, "WINTER-BOOTS", "web-order-9", "web")
    [coupon] = store.coupons.of(KEY)
    assert (coupon.used, coupon.left, coupon.state(NOW)) == (1, 0, "used")
    assert store.coupons.left_of(KEY) == []
    assert feed(store)[1:] == [("coupon_redeemed", {"offer": "WINTER-BOOTS", "redemption": first.redemption_id,
                                                    "left": "0"})]


def test_a_coupon_of_two_is_redeemed_twice(store: ProfileStore) -> None:
    save(store, "TWICE")
    numbers = [store.coupons.redeem(SHOPPER, KEY, "TWICE", key, "web").number for key in ("a", "b")]
    assert numbers == [1, 2]
    with refused("already_redeemed"):
        store.coupons.redeem(SHOPPER, KEY, "TWICE", "c", "web")
    assert [r["number"] for r in store.coupons.redemptions_of(KEY)] == [1, 2]


def test_a_redemption_outside_the_offer_s_window_or_of_no_coupon_is_refused(store: ProfileStore) -> None:
    with refused("no_coupon"):
        store.coupons.redeem(SHOPPER, KEY, "WINTER-BOOTS", "k", "web")
    save(store, "LATER")
    with refused("offer_not_started"):
        store.coupons.redeem(SHOPPER, KEY, "LATER", "k", "web")
    save(store, "WINTER-BOOTS")
    store.offers.merge([offer("WINTER-BOOTS", starts=timedelta(days=-3), ends=timedelta(seconds=-1))])  # ended since
    with refused("offer_ended"):
        store.coupons.redeem(SHOPPER, KEY, "WINTER-BOOTS", "k", "web")
    assert store.coupons.redemptions_of(KEY) == []


def test_an_erase_takes_coupons_and_redemptions_and_the_export_holds_them_before(store: ProfileStore) -> None:
    save(store, "TWICE")
    made = store.coupons.redeem(SHOPPER, KEY, "TWICE", "a", "web")
    exported = store.export(SHOPPER)
    assert [c["offer"] for c in exported["coupons"]] == ["TWICE"]
    assert [r["redemption_id"] for r in exported["redemptions"]] == [made.redemption_id]
    json.dumps(exported)  # JSON-ready
    store.erase(SHOPPER)
    assert store.coupons.of(KEY) == [] and store.coupons.redemptions_of(KEY) == []
    save(store, "WINTER-BOOTS")  # a save still on its way from a kiosk brings nothing back
    assert store.coupons.of(KEY) == []


def test_a_coupon_s_state_follows_its_offer_and_its_redemptions() -> None:
    def coupon(used: int, found: Offer | None = OFFERS[1]) -> Coupon:
        return Coupon("TWICE", found, NOW, "web", used)
    assert (coupon(0).state(NOW), coupon(0).left) == ("running", 2)
    assert (coupon(2).state(NOW), coupon(2).left) == ("used", 0)
    assert coupon(0).state(NOW + timedelta(days=2)) == "ended"
    assert coupon(0).state(NOW - timedelta(days=2)) == "scheduled"
    assert (coupon(0, None).state(NOW), coupon(0, None).left) == ("ended", 0)  # an offer HQ no longer has


# The push contract and the kiosk's copy.

def test_coupon_changes_are_of_version_2_and_a_version_1_change_keeps_version_1_s_fields() -> None:
    visit = uuid.uuid4()
    saved_change = ProfileChange(v=2, cursor=3, session=visit, kind=ChangeKind.COUPON_SAVED, offer="TWICE",
                                 hlc="000000000000002-000000-hq-api")
    assert decode(ProfileChange, saved_change.model_dump_json(exclude_none=True).encode()) == saved_change
    for kind, fields in ((ChangeKind.COUPON_SAVED, {"offer": "TWICE", "hlc": "000000000000002-000000-hq-api"}),
                         (ChangeKind.COUPON_REDEEMED, {"offer": "TWICE", "left": 1})):
        with pytest.raises(ContractError, match="version 2"):
            decode(ProfileChange, json.dumps({"v": 1, "cursor": 3, "session": str(visit), "kind": kind.value,
                                              **fields}).encode())
    with pytest.raises(ContractError):  # a redemption carries how many are left
        decode(ProfileChange, json.dumps({"v": 2, "cursor": 3, "session": str(visit), "kind": "coupon_redeemed",
                                          "offer": "TWICE"}).encode())
    old = ProfileChange(cursor=3, session=visit, kind=ChangeKind.ERASE)
    assert set(json.loads(old.model_dump_json())) == {"v", "cursor", "session", "kind", "sku", "key", "value",
                                                      "display_name", "consent", "hlc"}


def test_a_version_2_answer_carries_no_coupons_and_a_version_3_one_does() -> None:
    request_id = uuid.uuid4()
    with pytest.raises(ValueError, match="no coupons"):
        ProfileResponse(v=2, request_id=request_id, shopper=SHOPPER, coupons=("TWICE",))
    assert "coupons" not in json.loads(ProfileResponse(v=2, request_id=request_id, shopper=SHOPPER).model_dump_json())
    newer = ProfileResponse(request_id=request_id, shopper=SHOPPER, coupons=("TWICE",))
    assert decode(ProfileResponse, newer.model_dump_json().encode()).coupons == ("TWICE",)


def test_the_visit_takes_coupons_from_the_profile_and_from_pushes() -> None:
    visit = Visit(shopper=SHOPPER)
    take_profile(visit, ProfileResponse(request_id=uuid.uuid4(), shopper=SHOPPER, cursor=4, coupons=("TWICE",)),
                 NOW.timestamp(), KIOSK)
    assert visit.coupons == {"TWICE"}
    pushed = ProfileChange(v=2, cursor=5, session=visit.id, kind=ChangeKind.COUPON_SAVED, offer="WINTER-BOOTS",
                           hlc=str(Hlc(int(NOW.timestamp() * 1000), 0, "hq-api")))
    assert take_change(visit, pushed) is ChangeVerdict.APPLIED and visit.coupons == {"TWICE", "WINTER-BOOTS"}
    one_left = ProfileChange(v=2, cursor=6, session=visit.id, kind=ChangeKind.COUPON_REDEEMED, offer="TWICE", left=1)
    assert take_change(visit, one_left) is ChangeVerdict.APPLIED and "TWICE" in visit.coupons
    used_up = ProfileChange(v=2, cursor=7, session=visit.id, kind=ChangeKind.COUPON_REDEEMED, offer="TWICE", left=0)
    assert take_change(visit, used_up) is ChangeVerdict.APPLIED and visit.coupons == {"WINTER-BOOTS"}
    assert take_change(visit, used_up) is ChangeVerdict.REPEAT


def test_a_profile_pulled_again_keeps_a_coupon_saved_here_in_the_visit() -> None:
    visit = Visit(shopper=SHOPPER)
    visit.stamps["coupon:WINTER-BOOTS"] = str(Hlc(int(NOW.timestamp() * 1000), 0, KIOSK))  # saved at this kiosk
    visit.coupons.add("WINTER-BOOTS")
    take_profile(visit, ProfileResponse(request_id=uuid.uuid4(), shopper=SHOPPER, cursor=4, coupons=("TWICE",)),
                 NOW.timestamp(), KIOSK)
    assert visit.coupons == {"TWICE", "WINTER-BOOTS"}


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[ProfileChange] = []
        self.lock = threading.Lock()

    def publish(self, topic: str, payload: bytes, timeout_s: float = 10.0,
                properties: Mapping[str, Any] | None = None) -> None:
        with self.lock:
            self.sent.append(decode(ProfileChange, payload))


def test_coupon_changes_go_only_to_a_kiosk_that_reads_them(store: ProfileStore) -> None:
    publisher = RecordingPublisher()
    store.presence.arrive(SHOPPER, STORE, "kiosk-new", str(uuid.uuid4()), v=3)
    pusher = ProfilePusher(store, publisher, poll_s=0.01)
    pusher.start()
    try:
        assert pusher.started.wait(10)
        save(store, "TWICE")  # from kiosk-01, not where the shopper stands
        made = store.coupons.redeem(SHOPPER, KEY, "TWICE", "a", "web")
        assert eventually(lambda: pusher.stats.cursor == store.changes.latest(), 10), pusher.stats
        with publisher.lock:
            assert [(c.v, c.kind, c.offer, c.left) for c in publisher.sent] == [
                (2, ChangeKind.COUPON_SAVED, "TWICE", None), (2, ChangeKind.COUPON_REDEEMED, "TWICE", 1)]
        assert made.left == 1
        store.presence.arrive(SHOPPER, STORE, "kiosk-old", str(uuid.uuid4()))  # a kiosk of version 2
        store.coupons.redeem(SHOPPER, KEY, "TWICE", "b", "web")
        assert eventually(lambda: pusher.stats.cursor == store.changes.latest(), 10)
        assert pusher.stats.too_new == 1 and len(publisher.sent) == 2
    finally:
        pusher.stop()
