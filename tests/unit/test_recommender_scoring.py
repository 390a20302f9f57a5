"""Recommender scoring: co-visitation counts, history weights, the blend, the content side."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import (
    BuildConfig,
    Channel,
    Click,
    ClickLog,
    ContentConfig,
    CovisitConfig,
    HistoryEvent,
    ItemFeatures,
    ScoringConfig,
    build_model,
)
from recommender._content import top_k_per_row
from recommender._covisit import build_covisitation
from recommender._session import weigh_history
from recommender._table import NeighbourTable

PLAIN_COVISIT = CovisitConfig(window=5, backward_weight=0.5, distance_exponent=1.0, session_half_life_days=None)
# Position only: no recency, synced views count half, no content on warm items.
PLAIN_SCORING = ScoringConfig(position_decay=1.0, recency_half_life_s=None, synced_weight=0.5, remind_weight=1.0,
                              content_weight=0.0, cold_content_weight=1.0)


def log_of(*sessions: str, start: float = 1000.0) -> ClickLog:
    """Sessions written as strings of one-letter items, 10 s apart."""
    clicks = [
        Click(f"s{n}", item, start + 100.0 * n + 10.0 * position)
        for n, session in enumerate(sessions)
        for position, item in enumerate(session)
    ]
    return ClickLog.from_clicks(clicks)


Rows = dict[str, dict[str, float]]


def covisit_rows(log: ClickLog, config: CovisitConfig = PLAIN_COVISIT) -> tuple[Rows, dict[str, float]]:
    result = build_covisitation(log.items, log.sessions, log.times, len(log.item_ids), config)
    rows = {}
    for code, item in enumerate(log.item_ids):
        neighbours, weights = result.table.row(code)
        rows[item] = {log.item_ids[n]: float(w) for n, w in zip(neighbours, weights, strict=True)}
    repeat = {item: float(result.repeat[code]) for code, item in enumerate(log.item_ids)}
    return rows, repeat


def test_covisitation_counts_distance_and_direction_and_normalises_rows() -> None:
    # ABC: A→B 1, B→C 1, A→C 1/2; backwards half of that. AB: A→B 1, B→A 1/2.
    rows, repeat = covisit_rows(log_of("ABC", "AB"))
    assert rows["A"] == pytest.approx({"B": 2 / 2.5, "C": 0.5 / 2.5})
    assert rows["B"] == pytest.approx({"C": 0.5, "A": 0.5})
    assert rows["C"] == pytest.approx({"B": 0.5 / 0.75, "A": 0.25 / 0.75})
    assert list(rows["A"]) == ["B", "C"]  # best neighbour first
    assert repeat == {"A": 0.0, "B": 0.0, "C": 0.0}


def test_re_clicks_become_the_repeat_weight_not_a_neighbour() -> None:
    # AAB: A→A 1 + 1/2 (both directions), A→B 1 + 1/2 (from distance 2), B→A 1/2 + 1/4
    rows, repeat = covisit_rows(log_of("AAB"))
    assert "A" not in rows["A"]
    assert repeat["A"] == pytest.approx(1.5 / 3.0)
    assert rows["A"] == pytest.approx({"B": 1.5 / 3.0})
    assert repeat["B"] == 0.0


def test_window_limits_pairs_and_sessions_do_not_mix() -> None:
    rows, _ = covisit_rows(log_of("ABCD", "EF"), CovisitConfig(window=1, session_half_life_days=None))
    assert set(rows["A"]) == {"B"}
    assert "E" not in rows["D"] and "D" not in rows["E"]


def test_session_half_life_weighs_old_sessions_less() -> None:
    day = 86_400.0
    old = [Click("old", "A", 0.0), Click("old", "B", 10.0)]
    new = [Click("new", "A", 2 * day), Click("new", "C", 2 * day + 10.0)]
    log = ClickLog.from_clicks(old + new)
    rows, _ = covisit_rows(log, CovisitConfig(session_half_life_days=2.0))
    # the old session is two days older than the newest click: half the weight
    assert rows["A"]["C"] == pytest.approx(2 * rows["A"]["B"], rel=1e-6)


def test_history_weights_decay_by_position_channel_and_recency() -> None:
    index = {"A": 0, "B": 1, "C": 2}
    history = [HistoryEvent("C", 30.0), HistoryEvent("A", 10.0), HistoryEvent("B", 20.0, Channel.WEB),
               HistoryEvent("ZZZ", 25.0)]
    weighted = weigh_history(history, index, PLAIN_SCORING)
    weights = dict(zip(weighted.items.tolist(), weighted.weights.tolist(), strict=True))
    assert weighted.unknown == 1
    assert weights[2] == pytest.approx(1.0)  # newest tap
    assert weights[1] == pytest.approx(0.5 * math.exp(-1))  # one step back, synced from the web
    assert weights[0] == pytest.approx(math.exp(-2))
    hourly = ScoringConfig(recency_half_life_s=3600.0, position_decay=1.0, synced_weight=1.0)
    aged = weigh_history([HistoryEvent("A", 0.0)], index, hourly, now=7200.0)
    assert aged.weights[0] == pytest.approx(0.25)


def test_history_keeps_the_heaviest_view_of_a_repeated_item_and_its_channel() -> None:
    index = {"A": 0, "B": 1}
    history = [HistoryEvent("A", 1.0, Channel.APP), HistoryEvent("B", 2.0), HistoryEvent("A", 3.0)]
    weighted = weigh_history(history, index, PLAIN_SCORING)
    assert weighted.items.tolist() == [0, 1]
    assert weighted.weights.tolist() == pytest.approx([1.0, math.exp(-1)])
    assert weighted.channels == (Channel.KIOSK, Channel.KIOSK)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from("ABCDEFGH"), min_size=1, max_size=30), st.floats(0.2, 5.0))
def test_later_taps_never_weigh_less_than_earlier_ones(items: list[str], decay: float) -> None:
    index = {item: n for n, item in enumerate("ABCDEFGH")}
    history = [HistoryEvent(item, float(t)) for t, item in enumerate(items)]
    weighted = weigh_history(history, index, ScoringConfig(position_decay=decay, recency_half_life_s=None))
    last_seen = {item: t for t, item in enumerate(items)}
    by_time = sorted(weighted.items.tolist(), key=lambda code: last_seen["ABCDEFGH"[code]])
    weights = dict(zip(weighted.items.tolist(), weighted.weights.tolist(), strict=True))
    ordered = [weights[code] for code in by_time]
    assert ordered == sorted(ordered)
    assert max(ordered) == pytest.approx(1.0)


def test_score_is_the_documented_blend_of_covisitation_repeat_and_reminder() -> None:
    model = build_model(None, log_of("ABC", "AB"), BuildConfig(covisit=PLAIN_COVISIT, scoring=PLAIN_SCORING))
    ranked = {s.item_id: s.score for s in model.rank([HistoryEvent("A", 0.0), HistoryEvent("B", 10.0)], k=3)}
    e = math.exp(-1)
    assert ranked["C"] == pytest.approx(1.0 * 0.5 + e * 0.2, rel=1e-6)
    assert ranked["A"] == pytest.approx(1.0 * 0.5 + e * (0.0 + 1.0), rel=1e-6)
    assert ranked["B"] == pytest.approx(e * 0.8 + 1.0 * (0.0 + 1.0), rel=1e-6)


def test_what_follows_the_last_tap_outranks_what_followed_an_earlier_one() -> None:
    # X follows A, Y follows B, equally often; the shopper tapped A then B.
    model = build_model(None, log_of("AX", "BY", "AX", "BY"), BuildConfig(covisit=PLAIN_COVISIT,
                                                                            scoring=PLAIN_SCORING))
    ranked = [s.item_id for s in model.rank([HistoryEvent("A", 0.0), HistoryEvent("B", 5.0)], k=4)]
    assert ranked.index("Y") < ranked.index("X")
    reversed_order = [s.item_id for s in model.rank([HistoryEvent("B", 0.0), HistoryEvent("A", 5.0)], k=4)]
    assert reversed_order.index("X") < reversed_order.index("Y")


def test_rank_fills_with_popular_items_and_counts_unknown_history() -> None:
    model = build_model(None, log_of("AB", "AC", "AD", "E"))
    ranked = model.rank([HistoryEvent("nope", 0.0)], k=3)
    assert [s.item_id for s in ranked] == ["A", "B", "C"]  # A most clicked, then first seen
    assert all(s.score == 0.0 for s in ranked)
    assert model.counters.unknown_history_items == 1


BOOTS = [
    ItemFeatures("BOOT-BLK", ("Botín Chelsea negro", "Black Chelsea leather boot"), "footwear/boots", "Norte", 89.0),
    ItemFeatures("BOOT-TAN", ("Botín Chelsea camel", "Tan Chelsea suede boot"), "footwear/boots", "Norte", 94.0),
    ItemFeatures("SNK-WHT", ("Zapatilla blanca", "White leather trainer"), "footwear/sneakers", "Brisa", 69.0),
    ItemFeatures("COAT-GRY", ("Abrigo de lana gris", "Grey wool coat"), "outerwear/coats", "Olmo", 149.0),
    ItemFeatures("HAT-MUS", ("Gorro mostaza", "Mustard beanie"), "accessories/hats", "Olmo", 19.0),
]


def test_content_neighbours_prefer_same_category_and_words() -> None:
    model = build_model(BOOTS)
    neighbours, weights = model.data.content.row(0)
    assert model.item_ids[int(neighbours[0])] == "BOOT-TAN"
    assert list(weights) == sorted(weights, reverse=True)
    assert model.item_ids[int(neighbours[-1])] != "BOOT-TAN"


def test_large_catalogs_use_the_latent_space_within_departments() -> None:
    items = [ItemFeatures(f"I{n}", (f"word{n % 7} shared{n % 3}",), f"dept{n % 2}/sub{n % 7}", f"b{n % 5}", 10.0 + n)
             for n in range(84)]
    exact = build_model(items, config=BuildConfig(content=ContentConfig(neighbours=5)))
    latent = build_model(items, config=BuildConfig(content=ContentConfig(neighbours=5, exact_up_to=10, dimensions=8)))
    for model in (exact, latent):
        neighbours, _ = model.data.content.row(0)
        assert {int(n) % 7 for n in neighbours} == {0}  # same sub-category and word first
    wide = ContentConfig(neighbours=60)  # more neighbours than a department (42 items) holds
    exact = build_model(items, config=BuildConfig(content=wide))
    latent = build_model(items, config=BuildConfig(content=replace(wide, exact_up_to=10, dimensions=8)))
    assert any(int(n) % 2 != 0 for n in exact.data.content.row(0)[0])  # the exact search crosses departments ...
    assert all(int(n) % 2 == row % 2 for row in range(84) for n in latent.data.content.row(row)[0])  # ... not this


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 900), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.3, 0.9]))
def test_sampled_top_k_is_exact(keep: int, width: int, seed: int, floor: float) -> None:
    rng = np.random.default_rng(seed)
    block = np.round(rng.random((3, width)), 2).astype(np.float32)  # rounding makes ties
    rows, cols, values = top_k_per_row(block, keep, floor)
    for row in range(3):
        expected = sorted(((-float(v), c) for c, v in enumerate(block[row]) if v >= floor))[:keep]
        got = [(-float(v), int(c)) for r, c, v in zip(rows, cols, values, strict=True) if r == row]
        assert got == expected


def test_cold_start_new_item_gets_suggestions_from_the_content_side() -> None:
    events = log_of("AB", "AB")  # clicks on items outside this catalog, none on the boots
    model = build_model(BOOTS, events)
    ranked = model.rank([HistoryEvent("BOOT-BLK", 0.0)], k=2)
    assert [s.item_id for s in ranked] == ["BOOT-BLK", "BOOT-TAN"]  # the reminder, then its content twin
    assert model.data.covisit.n_pairs > 0 and ranked[1].score > 0


def test_warm_items_take_content_at_the_small_blend_weight() -> None:
    events = log_of("AB", "AB")
    items = [*BOOTS, ItemFeatures("A", ("Botín negro",), "footwear/boots", "Norte", 90.0),
             ItemFeatures("B", ("Gorro",), "accessories/hats", "Olmo", 10.0)]
    scoring = ScoringConfig(content_weight=0.05, cold_content_weight=1.0, remind_weight=0.0, recency_half_life_s=None)
    model = build_model(items, events, BuildConfig(scoring=scoring))
    warm = {s.item_id: s.score for s in model.rank([HistoryEvent("A", 0.0)], k=10)}
    cold = {s.item_id: s.score for s in model.rank([HistoryEvent("BOOT-BLK", 0.0)], k=10)}
    a = model.item_ids.index("A")
    neighbours, sims = model.data.content.row(a)
    similarity_to_blk = dict(zip(neighbours.tolist(), sims.tolist(), strict=True))[model.item_ids.index("BOOT-BLK")]
    assert warm["BOOT-BLK"] == pytest.approx(0.05 * similarity_to_blk, rel=1e-5)
    assert warm["B"] > warm["BOOT-BLK"]  # behaviour dominates on warm items
    assert max(cold.values()) > 0.05  # a cold item's neighbours count in full


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.floats(0.01, 10.0)), max_size=40),
       st.integers(1, 4))
def test_neighbour_table_keeps_the_heaviest_pairs_of_each_row_in_order(
    pairs: list[tuple[int, int, float]], keep: int
) -> None:
    unique = {(r, c): w for r, c, w in pairs}
    rows = np.array([r for r, _ in unique], dtype=np.int64)
    cols = np.array([c for _, c in unique], dtype=np.int64)
    weights = np.array(list(unique.values()), dtype=np.float64)
    table = NeighbourTable.from_pairs(6, rows, cols, weights, keep=keep)
    for row in range(6):
        mine = sorted((w for (r, _), w in unique.items() if r == row), reverse=True)
        _, kept = table.row(row)
        assert kept.tolist() == pytest.approx(mine[:keep], rel=1e-6)
    owner, _, gathered = table.gather(np.array([5, 0], dtype=np.intp))
    assert gathered.shape[0] == table.row(5)[0].shape[0] + table.row(0)[0].shape[0]
    assert set(owner.tolist()) <= {0, 1}
