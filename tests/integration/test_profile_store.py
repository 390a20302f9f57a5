"""HQ's profile store on SQLite and PostgreSQL: each event once, under the right profile."""

from __future__ import annotations

import json
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hq import ProfileStore, profile_key
from kiosk_protocol import ConsentStatus, EventKind, Hlc, new_event


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> ProfileStore:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    profile_store = ProfileStore(url)
    request.addfinalizer(profile_store.close)
    return profile_store


def _event(shopper: str | None, sku: str = "BOOT-1", session: uuid.UUID | None = None, seq: int = 1):  # type: ignore[no-untyped-def]
    return new_event(kind=EventKind.PRODUCT_VIEW, store="madrid-centro", kiosk="kiosk-01", seq=seq,
                     session=session or uuid.uuid4(), shopper=shopper, sku=sku)


def test_each_event_is_stored_once(store: ProfileStore) -> None:
    event = _event("shopper-1")
    assert store.record(event) is True
    assert store.record(event) is False
    assert store.event_count() == 1
    assert store.has_event(str(event.event_id))
    assert not store.has_event(str(uuid.uuid4()))


def test_events_join_the_shoppers_profile_or_the_anonymous_session(store: ProfileStore) -> None:
    session = uuid.uuid4()
    store.record(_event("shopper-1", "BOOT-1", seq=1))
    store.record(_event("shopper-1", "BAG-2", seq=2))
    store.record(_event(None, "COAT-3", session=session, seq=3))
    assert [e.sku for e in store.history("shopper:shopper-1")] == ["BOOT-1", "BAG-2"]
    assert [e.sku for e in store.history(f"session:{session}")] == ["COAT-3"]


def test_kiosk_id_is_never_the_identity() -> None:
    anonymous = _event(None)
    assert "kiosk" not in profile_key(anonymous) and str(anonymous.session) in profile_key(anonymous)


def test_a_batch_stores_each_event_once_even_with_repeats_inside_it(store: ProfileStore) -> None:
    first, second = _event("shopper-1", seq=1), _event(None, seq=2)
    assert store.record_many([first, second, first]) == {str(first.event_id), str(second.event_id)}
    assert store.record_many([second, _event("shopper-1", "BAG-2", seq=3)]) == {
        str(e.event_id) for e in store.history("shopper:shopper-1") if e.sku == "BAG-2"}
    assert store.event_count() == 3


def _change(kind: EventKind, hlc: str, session: uuid.UUID | None = None, shopper: str = "shopper-1",
            **details: object):  # type: ignore[no-untyped-def]
    return new_event(kind=kind, store="madrid-centro", kiosk="kiosk-01", seq=1, session=session or uuid.uuid4(),
                     shopper=shopper, hlc=hlc, **details)


def _hlc(wall_ms: int, node: str = "kiosk-01") -> str:
    return str(Hlc(wall_ms, 0, node))


def test_wishlist_is_a_set_union_with_removals_ordered_by_hlc(store: ProfileStore) -> None:
    store.record_many([
        _change(EventKind.WISHLIST_ADD, _hlc(100), sku="BOOT-1"),
        _change(EventKind.WISHLIST_ADD, _hlc(110, "web"), sku="BAG-2"),
        _change(EventKind.WISHLIST_REMOVE, _hlc(300), sku="BOOT-1"),
        _change(EventKind.WISHLIST_ADD, _hlc(200, "app"), sku="BOOT-1"),  # older than the removal: stays removed
        _change(EventKind.WISHLIST_ADD, _hlc(400, "app"), sku="COAT-3"),
        _change(EventKind.WISHLIST_REMOVE, _hlc(350), sku="COAT-3"),  # arrives later but is older: no effect
    ])
    assert store.profile("shopper-1").wishlist == ["BAG-2", "COAT-3"]
    store.record(_change(EventKind.WISHLIST_ADD, _hlc(500), sku="BOOT-1"))  # re-added after the removal
    assert sorted(store.profile("shopper-1").wishlist) == ["BAG-2", "BOOT-1", "COAT-3"]


def test_preferences_last_writer_by_hlc_not_by_arrival(store: ProfileStore) -> None:
    store.record(_change(EventKind.PREFERENCE, _hlc(900, "web"), key="language", value="en"))
    store.record(_change(EventKind.PREFERENCE, _hlc(800), key="language", value="es"))  # older, arrives later
    store.record(_change(EventKind.PREFERENCE, _hlc(100), key="size", value="40"))
    assert store.profile("shopper-1").preferences == {"language": "en", "size": "40"}


def test_anonymous_views_join_the_profile_only_after_consent_is_granted(store: ProfileStore) -> None:
    granted, denied = uuid.uuid4(), uuid.uuid4()
    store.record_many([_event(None, "BOOT-1", session=granted, seq=1), _event(None, "BAG-2", session=denied, seq=2)])
    store.record(_change(EventKind.CONSENT, _hlc(100), session=denied, shopper="shopper-2",
                         consent=ConsentStatus.DENIED))
    store.record(_change(EventKind.CONSENT, _hlc(100), session=granted, consent=ConsentStatus.GRANTED))
    store.record(_event(None, "COAT-3", session=granted, seq=3))  # a later anonymous view of that session
    assert [e.sku for e in store.profile("shopper-1").history if e.kind == "product_view"] == ["BOOT-1", "COAT-3"]
    assert store.profile("shopper-1").consent is ConsentStatus.GRANTED
    assert [e.sku for e in store.history(f"session:{denied}")] == ["BAG-2"]  # denied: stays anonymous
    assert store.profile("shopper-2").consent is ConsentStatus.DENIED


def test_a_touched_suggestion_is_stored_as_its_own_kind_and_counts_as_a_view(store: ProfileStore) -> None:
    view = _event("shopper-1", "BOOT-1", seq=1)
    touch = new_event(kind=EventKind.SUGGESTION_TAP, store="madrid-centro", kiosk="kiosk-01", seq=2,
                      session=view.session, shopper="shopper-1", sku="BAG-2", beside="BOOT-1")
    store.record_many([view, touch])
    profile = store.profile("shopper-1")
    assert [(e.kind, e.sku, e.detail) for e in profile.history] == [
        ("product_view", "BOOT-1", None), ("suggestion_tap", "BAG-2", "BOOT-1")]  # beside which product
    assert [e.sku for e in profile.views] == ["BOOT-1", "BAG-2"]  # the shopper looked at both
    assert [e["kind"] for e in store.export("shopper-1")["history"]] == ["product_view", "suggestion_tap"]


def test_newest_consent_is_in_force_and_every_change_is_kept(store: ProfileStore) -> None:
    store.record(_change(EventKind.CONSENT, _hlc(100), consent=ConsentStatus.GRANTED))
    store.record(_change(EventKind.CONSENT, _hlc(300, "web"), consent=ConsentStatus.REVOKED))
    store.record(_change(EventKind.CONSENT, _hlc(200), consent=ConsentStatus.GRANTED))  # older, arrives last
    assert store.profile("shopper-1").consent is ConsentStatus.REVOKED
    assert [c["status"] for c in store.export("shopper-1")["consent_log"]] == ["granted", "granted", "revoked"]


def test_export_holds_everything_and_erase_leaves_nothing_that_can_come_back(store: ProfileStore) -> None:
    session = uuid.uuid4()
    store.record(_event(None, "BOOT-1", session=session, seq=1))
    store.record(_change(EventKind.CONSENT, _hlc(100), session=session, consent=ConsentStatus.GRANTED))
    store.record(_change(EventKind.WISHLIST_ADD, _hlc(200), sku="BAG-2"))
    exported = store.export("shopper-1")
    assert exported["wishlist"] == ["BAG-2"] and exported["linked_sessions"] == [str(session)]
    assert {e["kind"] for e in exported["history"]} == {"product_view", "consent", "wishlist_add"}
    json.dumps(exported)  # ready to hand to the shopper

    assert store.erase("shopper-1") == 3
    assert store.export("shopper-1")["history"] == [] and store.profile("shopper-1").wishlist == []
    late = _event("shopper-1", "COAT-3", seq=9)  # still in some kiosk's outbox at erase time
    assert store.record(late) is False and store.dropped_for_erased == 1
    assert store.event_count() == 0


CHANGES = st.lists(st.tuples(st.sampled_from(["add", "remove", "pref"]), st.sampled_from(["A-1", "B-2", "C-3"]),
                             st.integers(1, 50), st.sampled_from(["kiosk-01", "web", "app"])), max_size=12)


@given(CHANGES, st.randoms())
@settings(max_examples=40, deadline=None)
def test_profiles_converge_whatever_order_changes_arrive_in(changes: list, rng: random.Random) -> None:  # type: ignore[type-arg]
    kinds = {"add": EventKind.WISHLIST_ADD, "remove": EventKind.WISHLIST_REMOVE, "pref": EventKind.PREFERENCE}
    batch = [_change(kinds[kind], str(Hlc(wall, n, node)), sku=None if kind == "pref" else sku,
                     key="size" if kind == "pref" else None, value=sku if kind == "pref" else None)
             for n, (kind, sku, wall, node) in enumerate(changes)]
    shuffled = batch[:]
    rng.shuffle(shuffled)
    one, other = ProfileStore("sqlite://"), ProfileStore("sqlite://")
    for event in batch:
        one.record(event)
    for event in shuffled:
        other.record(event)
    a, b = one.profile("shopper-1"), other.profile("shopper-1")
    assert (sorted(a.wishlist), a.preferences) == (sorted(b.wishlist), b.preferences)
