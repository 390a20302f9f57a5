"""Recommender business rules: stock, in view, diversity, reasons, bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk_app._catalog_features import item_features
from kiosk_protocol import load_catalog
from recommender import (
    BuildConfig,
    Channel,
    Click,
    ClickLog,
    HistoryEvent,
    ItemFeatures,
    ReasonKind,
    Recommender,
    ScoringConfig,
    UnknownStoreError,
    build_model,
)
from recommender._rules import pick_diverse

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "assets" / "catalog" / "demo.json"
HERE, THERE = "madrid", "bilbao"


def item(sku: str, group: str, stock_here: int = 3, text: str = "") -> ItemFeatures:
    return ItemFeatures(sku, (text or sku.lower(),), category=group, brand="b", price=10.0,
                        stock={HERE: stock_here, THERE: 1})


# Boots: four colours of one boot (one group) plus a sneaker, a bag and a coat.
CATALOG = [
    item("BOOT-BLK", "boots"), item("BOOT-TAN", "boots"), item("BOOT-RED", "boots"), item("BOOT-GRN", "boots"),
    item("SNEAKER", "sneakers"), item("BAG", "bags"), item("COAT", "coats", stock_here=0), item("HAT", "hats"),
]
# Shoppers who looked at the black boot went on to the other boots, the coat, the bag, the sneaker.
SESSIONS = [
    ["BOOT-BLK", "BOOT-TAN", "BOOT-RED", "BOOT-GRN"],
    ["BOOT-BLK", "COAT"], ["BOOT-BLK", "COAT"], ["BOOT-BLK", "COAT"],
    ["BOOT-BLK", "BAG"], ["BOOT-BLK", "BAG"],
    ["BOOT-BLK", "SNEAKER"],
    *[["HAT"]] * 8,  # the store's best seller
]


def events(store: str | None = HERE) -> ClickLog:
    return ClickLog.from_clicks(
        Click(f"s{n}", sku, 100.0 * n + position, store=store)
        for n, session in enumerate(SESSIONS)
        for position, sku in enumerate(session)
    )


@pytest.fixture(scope="module")
def model() -> Recommender:
    return build_model(CATALOG, events())


def test_only_in_stock_items_and_nothing_in_view(model: Recommender) -> None:
    answer = model.suggest([HistoryEvent("BOOT-BLK", 0.0)], HERE, in_view={"BOOT-BLK"}, k=8)
    shown = answer.item_ids
    assert "COAT" not in shown  # out of stock here, though the strongest co-visit
    assert "BOOT-BLK" not in shown
    elsewhere = model.suggest([HistoryEvent("BOOT-BLK", 0.0)], THERE, in_view={"BOOT-BLK"}, k=8)
    assert "COAT" in elsewhere.item_ids


def test_one_item_per_group_so_no_wall_of_boots(model: Recommender) -> None:
    answer = model.suggest([HistoryEvent("BOOT-BLK", 0.0)], HERE, in_view={"BOOT-BLK"}, k=5)
    groups = Counter(next(i.diversity_group for i in CATALOG if i.item_id == sku) for sku in answer.item_ids)
    assert max(groups.values()) == 1
    assert answer.item_ids[:3] == ("BAG", "BOOT-TAN", "SNEAKER")
    relaxed = model.with_scoring(ScoringConfig(max_per_group=3))
    boots = [sku for sku in relaxed.suggest([HistoryEvent("BOOT-BLK", 0.0)], HERE, in_view={"BOOT-BLK"}, k=6).item_ids
             if sku.startswith("BOOT")]
    assert len(boots) == 3


def test_reasons_name_the_tap_the_online_view_and_popularity(model: Recommender) -> None:
    answer = model.suggest([HistoryEvent("BOOT-BLK", 0.0)], HERE, in_view={"BOOT-BLK"}, k=5)
    reasons = {s.item_id: s.reason for s in answer.items}
    assert reasons["BAG"].kind is ReasonKind.TAPPED_HERE and reasons["BAG"].anchor == "BOOT-BLK"
    fresh = model.suggest([], HERE, k=1).items[0]  # a shopper who has tapped nothing yet
    assert fresh.item_id == "HAT" and fresh.reason.kind is ReasonKind.POPULAR_IN_STORE and fresh.reason.anchor is None
    online = model.suggest([HistoryEvent("BOOT-BLK", 0.0, Channel.WEB)], HERE, in_view=(), k=2)
    first = online.items[0]
    assert first.item_id == "BOOT-BLK" and first.reason.kind is ReasonKind.SEEN_ONLINE  # "you looked at this online"
    assert online.items[1].reason == first.reason.__class__(ReasonKind.SEEN_ONLINE, "BOOT-BLK", Channel.WEB)
    other_store = model.suggest([HistoryEvent("BOOT-BLK", 0.0, Channel.STORE)], HERE, in_view={"BOOT-BLK"}, k=1)
    assert other_store.items[0].reason.kind is ReasonKind.SEEN_IN_ANOTHER_STORE


def test_content_reason_and_chain_popularity_when_the_store_has_no_figures() -> None:
    catalog = item_features(load_catalog(DEMO_CATALOG))
    model = build_model(catalog)  # content only: what a kiosk builds with no model file
    answer = model.suggest([HistoryEvent("BOOT-CHELSEA-BLK", 0.0)], "madrid-centro", in_view={"BOOT-CHELSEA-BLK"})
    assert answer.items and all(s.reason.kind is ReasonKind.SIMILAR for s in answer.items)
    assert answer.items[0].item_id == "BOOT-CHELSEA-TAN"
    chain = build_model(CATALOG, events(store=None))
    fallback = chain.suggest([], HERE, k=1)
    assert fallback.items[0].item_id == "HAT" and fallback.items[0].reason.kind is ReasonKind.POPULAR


def test_reminders_can_be_switched_off(model: Recommender) -> None:
    history = [HistoryEvent("BAG", 0.0), HistoryEvent("BOOT-BLK", 1.0)]
    with_reminders = model.suggest(history, HERE, in_view={"BOOT-BLK"}, k=3).item_ids
    without = model.suggest(history, HERE, in_view={"BOOT-BLK"}, k=3, include_reminders=False).item_ids
    assert "BAG" in with_reminders and "BAG" not in without


def test_live_stock_test_overrides_the_snapshot_and_unknown_store_is_an_error(model: Recommender) -> None:
    live = model.suggest([HistoryEvent("BOOT-BLK", 0.0)], "new-store", in_view={"BOOT-BLK"}, k=8,
                         in_stock=lambda sku: sku in {"COAT", "HAT"})
    assert set(live.item_ids) == {"COAT", "HAT"}
    with pytest.raises(UnknownStoreError, match="new-store"):
        model.suggest([HistoryEvent("BOOT-BLK", 0.0)], "new-store")


def test_unknown_history_items_are_ignored_and_counted(model: Recommender) -> None:
    before = model.counters.unknown_history_items
    answer = model.suggest([HistoryEvent("NOPE", 0.0), HistoryEvent("BOOT-BLK", 1.0), HistoryEvent("GONE", 2.0)],
                           HERE, in_view={"BOOT-BLK"}, k=2)
    assert answer.unknown_history_items == 2
    assert model.counters.unknown_history_items == before + 2
    assert answer.items[0].reason.anchor == "BOOT-BLK"


def test_k_zero_and_negative() -> None:
    model = build_model(CATALOG, events(), BuildConfig())
    assert model.suggest([HistoryEvent("BOOT-BLK", 0.0)], HERE, k=0).items == ()
    with pytest.raises(ValueError):
        model.suggest([], HERE, k=-1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 4)), max_size=40),
    st.sets(st.integers(0, 30)),
    st.integers(0, 8),
    st.integers(1, 3),
)
def test_pick_diverse_respects_every_rule(
    ranked: list[tuple[int, int]], blocked: set[int], k: int, max_per_group: int
) -> None:
    group = dict(ranked)
    candidates = list(dict.fromkeys(item for item, _ in ranked))
    picked = pick_diverse(candidates, lambda i: i not in blocked, group.__getitem__, k, max_per_group)
    assert len(picked) <= k and len(set(picked)) == len(picked)
    assert not set(picked) & blocked
    assert max(Counter(group[i] for i in picked).values(), default=0) <= max_per_group
    assert picked == [i for i in candidates if i in set(picked)]  # rank order kept
    if len(picked) < k:  # every eligible candidate left out belongs to a full group
        full = {g for g, n in Counter(group[i] for i in picked).items() if n >= max_per_group}
        assert all(group[i] in full for i in candidates if i not in blocked and i not in picked)
