"""The live push's pure parts: its wire messages, the visit's copy of the profile taking pushed
changes (only its own, once, newest wins), and the visit's end being heard however it comes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import Outbox, ProfileCache
from hq import render_acl
from kiosk_app import Kiosk
from kiosk_app._live_profile import ChangeVerdict
from kiosk_app._profiles import profile_from_hq
from kiosk_app.demo import demo_catalog_path
from kiosk_app.session import SessionMachine, Visit
from kiosk_protocol import (
    ChangeKind,
    ConsentStatus,
    ContractError,
    EventKind,
    Hlc,
    MessageTooLarge,
    ProfileChange,
    ProfileRequest,
    ProfileResponse,
    Role,
    decode,
    decode_event,
    issue_token,
    kiosk_topics,
    load_catalog,
    wall_clock_ms,
)
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead

HQ = Ed25519PrivateKey.generate()
SHOPPER = "shopper-0042"
TAN_BOOT, BOOT, TOTE = "BOOT-CHELSEA-TAN", "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"
WEB = "000000000000001-000000-hq-api"  # older than any stamp a kiosk's clock makes now


def ahead(seconds: float) -> str:
    """A stamp of HQ's API this far ahead of the kiosk's clock (it follows up to 10 minutes)."""
    return str(Hlc(wall_clock_ms() + int(seconds * 1000), 0, "hq-api"))


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    kiosk = Kiosk(load_catalog(demo_catalog_path()), Outbox(tmp_path / "o.sqlite"), "madrid-centro", "kiosk-01",
                  verify_card=card_verifier(HQ.public_key()))
    kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(HQ, SHOPPER, Role.SHOPPER, 60)))
    return kiosk


def change(visit: Visit | uuid.UUID, cursor: int, kind: ChangeKind = ChangeKind.WISHLIST_ADD,
           **fields: object) -> ProfileChange:
    defaults: dict[ChangeKind, dict[str, object]] = {
        ChangeKind.WISHLIST_ADD: {"sku": BOOT, "hlc": WEB}, ChangeKind.WISHLIST_REMOVE: {"sku": BOOT, "hlc": WEB},
        ChangeKind.DISPLAY_NAME: {"display_name": "Ana", "hlc": WEB},
        ChangeKind.CONSENT: {"consent": ConsentStatus.REVOKED, "hlc": WEB},
        ChangeKind.PREFERENCE: {"key": "size", "value": "38", "hlc": WEB}, ChangeKind.ERASE: {},
    }
    session = visit.id if isinstance(visit, Visit) else visit
    return ProfileChange.model_validate({"cursor": cursor, "session": session, "kind": kind, **defaults[kind],
                                         **fields})


def profile(cursor: int = 10, wishlist: tuple[str, ...] = (TAN_BOOT,)) -> ProfileResponse:
    return ProfileResponse(v=2, request_id=uuid.uuid4(), shopper=SHOPPER, wishlist=wishlist, cursor=cursor,
                           display_name="Ana G.")


# The wire.

@pytest.mark.parametrize(("kind", "fields"), [
    (ChangeKind.WISHLIST_ADD, {"sku": BOOT}),  # no HLC
    (ChangeKind.WISHLIST_REMOVE, {"sku": BOOT, "hlc": WEB, "display_name": "Ana"}),  # a field not its kind's
    (ChangeKind.ERASE, {"sku": BOOT}),
    (ChangeKind.DISPLAY_NAME, {"display_name": "Ana\u202e", "hlc": WEB}),  # a name that reorders text
    (ChangeKind.PREFERENCE, {"key": "Size", "value": "38", "hlc": WEB}),
])
def test_a_pushed_change_carries_its_kind_s_fields_and_no_other(kind: ChangeKind, fields: dict[str, object]) -> None:
    payload = json.dumps({"v": 1, "cursor": 5, "session": str(uuid.uuid4()), "kind": kind.value, **fields})
    with pytest.raises(ContractError):
        decode(ProfileChange, payload.encode())


def test_a_pushed_change_is_capped_before_it_is_parsed_and_names_no_shopper() -> None:
    good = change(uuid.uuid4(), 7).model_dump_json(exclude_none=True).encode()
    assert decode(ProfileChange, good).cursor == 7
    assert "shopper" not in ProfileChange.model_fields
    with pytest.raises(MessageTooLarge):
        decode(ProfileChange, good + b" " * ProfileChange.max_bytes)
    for wrong in (good.replace(b'"v":1', b'"v":4'), good.replace(b'"cursor":7', b'"cursor":0'), b"\xff\xfe", b"[]"):
        with pytest.raises(ContractError):
            decode(ProfileChange, wrong)


def test_only_version_2_names_the_visit_and_a_version_1_answer_keeps_version_1_s_fields() -> None:
    with pytest.raises(ContractError):
        decode(ProfileRequest, json.dumps({"v": 1, "request_id": str(uuid.uuid4()), "shopper": SHOPPER,
                                           "token": "t", "session": str(uuid.uuid4())}).encode())
    with pytest.raises(ValueError):
        ProfileResponse(v=1, request_id=uuid.uuid4(), shopper=SHOPPER, cursor=3)
    old = ProfileResponse(v=2, request_id=uuid.uuid4(), shopper=SHOPPER)
    old_answer = json.loads(old.model_dump_json(exclude_none=True))
    assert set(old_answer) == {"v", "request_id", "shopper", "recent_skus", "wishlist", "preferences"}


def test_each_kiosk_may_read_only_its_own_pushes_and_end_only_its_own_visits() -> None:
    acl = render_acl(["hq-profiles"], [("madrid-centro", "kiosk-a"), ("madrid-centro", "kiosk-b")])
    blocks = {block.splitlines()[0]: block.splitlines()[1:] for block in acl.split("\n\n") if block.startswith("user")}
    a, b = kiosk_topics("madrid-centro", "kiosk-a"), kiosk_topics("madrid-centro", "kiosk-b")
    kiosk_a = blocks["user madrid-centro.kiosk-a"]
    assert f"topic read {a.profile_changes}" in kiosk_a and f"topic write {a.profile_ended}" in kiosk_a
    assert not any(b.profile_changes in line or b.profile_ended in line for line in kiosk_a)
    assert "topic readwrite kiosk/#" in blocks["user hq-profiles"]


# The visit's copy.

def test_a_change_for_another_visit_or_after_sign_out_is_dropped_and_counted(kiosk: Kiosk) -> None:
    kiosk.take_profile(profile())
    assert kiosk.take_change(change(uuid.uuid4(), 11)) is ChangeVerdict.NOT_THIS_VISIT
    visit = kiosk.session
    kiosk.end_session()
    assert kiosk.take_change(change(visit, 12)) is ChangeVerdict.NOT_THIS_VISIT
    assert BOOT not in kiosk.session.wishlist and BOOT not in visit.wishlist
    assert kiosk.counters.changes_not_for_this_visit == 2 and kiosk.counters.changes_applied == 0


def test_a_change_is_taken_once_and_none_the_pulled_profile_already_holds(kiosk: Kiosk) -> None:
    kiosk.take_profile(profile(cursor=10))
    assert kiosk.take_change(change(kiosk.session, 10, sku=TOTE)) is ChangeVerdict.REPEAT  # in the profile
    assert kiosk.take_change(change(kiosk.session, 11)) is ChangeVerdict.APPLIED
    assert kiosk.take_change(change(kiosk.session, 11)) is ChangeVerdict.REPEAT  # pushed again
    assert kiosk.session.wishlist == {TAN_BOOT, BOOT} and kiosk.session.added == [BOOT]
    assert (kiosk.counters.changes_applied, kiosk.counters.changes_repeated) == (1, 2)


def test_changes_pushed_before_the_profile_arrives_wait_for_it(kiosk: Kiosk) -> None:
    assert kiosk.take_change(change(kiosk.session, 12)) is ChangeVerdict.WAITING
    assert kiosk.take_change(change(kiosk.session, 9, sku=TOTE)) is ChangeVerdict.WAITING
    assert kiosk.session.wishlist == set()
    waited = kiosk.take_profile(profile(cursor=10))  # the profile replaces the copy; then what waited
    assert [(c.cursor, verdict) for c, verdict in waited] == [(9, ChangeVerdict.REPEAT), (12, ChangeVerdict.APPLIED)]
    assert kiosk.session.wishlist == {TAN_BOOT, BOOT} and kiosk.session.display_name == "Ana G."


def test_a_profile_pulled_again_keeps_what_this_kiosk_changed_in_the_visit(kiosk: Kiosk) -> None:
    kiosk.take_profile(profile(cursor=10, wishlist=(TAN_BOOT,)))
    kiosk.consent(True)
    assert kiosk.set_wishlist(BOOT, True) and kiosk.set_wishlist(TAN_BOOT, False)  # still on their way to HQ
    kiosk.take_profile(profile(cursor=12, wishlist=(TAN_BOOT, TOTE)))  # pulled again: the web added the tote
    assert kiosk.session.wishlist == {BOOT, TOTE} and kiosk.session.changes_seen == 12


def test_an_older_change_from_elsewhere_does_not_undo_one_made_here(kiosk: Kiosk) -> None:
    kiosk.take_profile(profile())
    kiosk.consent(True)
    assert kiosk.set_wishlist(BOOT, True)
    assert kiosk.take_change(change(kiosk.session, 11, ChangeKind.WISHLIST_REMOVE)) is ChangeVerdict.OUTDATED
    assert kiosk.take_change(change(kiosk.session, 12, ChangeKind.CONSENT)) is ChangeVerdict.OUTDATED
    assert BOOT in kiosk.session.wishlist and kiosk.session.consented
    newer = change(kiosk.session, 13, ChangeKind.WISHLIST_REMOVE, hlc=ahead(5))
    assert kiosk.take_change(newer) is ChangeVerdict.APPLIED
    assert BOOT not in kiosk.session.wishlist
    assert kiosk.counters.changes_outdated == 2


def test_a_stamp_from_elsewhere_moves_the_kiosk_s_clock_past_it(kiosk: Kiosk) -> None:
    kiosk.take_profile(profile())
    kiosk.consent(True)
    pushed = ahead(60)  # HQ's clock a minute ahead of the kiosk's
    kiosk.take_change(change(kiosk.session, 11, hlc=pushed))
    kiosk.set_wishlist(TOTE, True)
    [*_, event] = [decode_event(m.payload) for m in kiosk.outbox.pending()]
    assert event.kind is EventKind.WISHLIST_ADD and event.hlc is not None and event.hlc > pushed


def test_a_revoked_consent_elsewhere_ends_linking_here_and_a_grant_does_not_start_it(kiosk: Kiosk) -> None:
    kiosk.take_profile(profile())
    granted = change(kiosk.session, 11, ChangeKind.CONSENT, consent=ConsentStatus.GRANTED, hlc=ahead(1))
    assert kiosk.take_change(granted) is ChangeVerdict.APPLIED
    assert kiosk.session.identity is None  # linking this visit is the shopper's answer here
    kiosk.consent(True)
    assert kiosk.session.identity == SHOPPER
    assert kiosk.take_change(change(kiosk.session, 12, ChangeKind.CONSENT, hlc=ahead(2))) is ChangeVerdict.APPLIED
    assert kiosk.session.identity is None  # its events are anonymous again
    assert not kiosk.set_wishlist(BOOT, True)


def test_a_display_name_and_a_preference_from_elsewhere_join_the_copy_and_an_erase_ends_the_visit(
        kiosk: Kiosk) -> None:
    kiosk.take_profile(profile())
    kiosk.take_change(change(kiosk.session, 11, ChangeKind.DISPLAY_NAME, display_name="Ana María"))
    kiosk.take_change(change(kiosk.session, 12, ChangeKind.PREFERENCE))
    assert (kiosk.session.display_name, kiosk.session.preferences) == ("Ana María", {"size": "38"})
    assert kiosk.take_change(change(kiosk.session, 13, ChangeKind.ERASE)) is ChangeVerdict.ERASED
    assert kiosk.session.shopper is None and kiosk.session.display_name is None


@pytest.mark.parametrize("end", ["the same card", "another card", "an erase", "staff", "a lock", "idle"])
def test_every_way_a_signed_in_visit_ends_is_heard_and_an_anonymous_one_is_not(end: str) -> None:
    ended: list[Visit] = []
    now = [0.0]
    machine = SessionMachine(idle_timeout_s=60, clock=lambda: now[0], on_visit_ended=ended.append)
    machine.browse()
    machine.end_visit()
    assert ended == []  # HQ pushes nothing to an anonymous visit
    machine.card("shopper-1")

    def idle() -> None:
        now[0] += 61
        assert machine.expire()

    {"the same card": lambda: machine.card("shopper-1"), "another card": lambda: machine.card("shopper-2"),
     "an erase": machine.end_visit, "staff": lambda: machine.enter_staff(None), "a lock": lambda: machine.lock("hq"),
     "idle": idle}[end]()
    assert [visit.shopper for visit in ended] == ["shopper-1"]


def test_the_kiosk_s_profile_cache_keeps_the_cursor_and_the_name_sealed(tmp_path: Path) -> None:
    cache = ProfileCache(tmp_path / "profiles.sqlite")
    try:
        cache.put(profile(cursor=10))  # "Ana G."
        cached = cache.get(SHOPPER)
        assert cached is not None
        assert (cached.display_name, cached.cursor, cached.wishlist) == ("Ana G.", 10, (TAN_BOOT,))
    finally:
        cache.close()
    assert b"Ana G." not in (tmp_path / "profiles.sqlite").read_bytes()  # sealed: the file alone names no one


def test_asked_again_after_a_reconnect_the_kiosk_waits_for_hq_s_own_answer_never_the_cache_s(tmp_path: Path) -> None:
    cache = ProfileCache(tmp_path / "profiles.sqlite")
    try:
        cache.put(profile(cursor=3))
        answers: list[ProfileResponse | None] = [None, None, profile(cursor=10)]  # lost twice, then HQ answers
        waits: list[float] = []
        got = profile_from_hq(lambda shopper, token: answers.pop(0), cache, SHOPPER, "token",
                              still_wanted=lambda: True, wait_connected=lambda s: bool(waits.append(s)))
        assert got is not None and not got.from_cache and got.response.cursor == 10 and len(waits) == 2
        ended = profile_from_hq(lambda shopper, token: None, cache, SHOPPER, "token",
                                still_wanted=lambda: False, wait_connected=lambda s: True)
        assert ended is None  # the visit is over: nothing to ask, and the cache is not taken instead
    finally:
        cache.close()
