"""HQ's profile store on SQLite and PostgreSQL: each event once, under the right profile."""

from __future__ import annotations

import uuid

import pytest

from backend_sync import EventKind, new_event
from backend_sync.hq import ProfileStore, profile_key


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
