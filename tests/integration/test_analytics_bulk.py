"""The analytics benchmark's bulk loader ends in the very roll-ups HQ's ingest path keeps for the
same history, so the figures it measures are of what HQ would hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from hq import ProfileStore
from kiosk_protocol import TapEvent
from testkit.analytics_bulk import BulkLoader, StoreHistory, analytics_rows, ingest, kiosks_of, store_history, stores
from testkit.postgres import ThrowawayDatabase

pytestmark = pytest.mark.slow

FIRST_DAY = date(2026, 10, 24)  # over the night the European clocks go back
DAYS = 4
PRODUCTS = 60  # few, so visits share products and days share rows


@pytest.fixture
def histories() -> list[StoreHistory]:
    """Three stores in three time zones (one open around the clock), a few dozen visits each."""
    known = stores(10)
    return [store_history(store, 1200, FIRST_DAY, DAYS, kiosks_of(store, 2), PRODUCTS, seed=n, shoppers=6)
            for n, store in enumerate((known[0], known[2], known[9]))]


@pytest.fixture
def second_postgres_url() -> Iterator[str]:
    with ThrowawayDatabase() as database:
        yield database.url


def test_the_history_is_made_of_valid_events_with_every_kind_analytics_counts(histories: list[StoreHistory]) -> None:
    events = [e for h in histories for e in h.events]
    for event in events:
        assert TapEvent.model_validate(event.model_dump()) == event
    kinds = {e.kind.value for e in events}
    assert {"visit_start", "product_view", "suggestion_shown", "suggestion_tap", "consent", "wishlist_add",
            "handoff", "visit_end"} <= kinds
    assert sum(len(h.reservations) for h in histories) and sum(len(h.orders) for h in histories)


def test_the_bulk_loader_ends_in_the_roll_ups_of_the_ingest_path(histories: list[StoreHistory], postgres_url: str,
                                                                  second_postgres_url: str) -> None:
    ProfileStore(postgres_url).close()
    loader = BulkLoader(postgres_url, batch=50)  # batches other than the ingest path's: the counts may not care
    loader.know_stores([h.store for h in histories])
    loaded = sum(loader.load(history) for history in histories)
    loader.close()
    store = ProfileStore(second_postgres_url)
    store.analytics.know_stores([h.store for h in histories])
    ingest(store, histories, batch=7)
    assert loaded == store.event_count() == sum(len(h.events) for h in histories)
    store.close()

    bulk, ingested = analytics_rows(postgres_url), analytics_rows(second_postgres_url)
    assert {name: len(rows) for name, rows in bulk.items()} == {name: len(rows) for name, rows in ingested.items()}
    assert bulk == ingested
    for name in ("analytics_visits", "analytics_visit_products", "analytics_product_days", "analytics_store_days"):
        assert bulk[name], f"{name} is empty: the history counts nothing there"
