"""Recommender offline evaluation: metrics by hand, the protocol's filters, the reference models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import (
    Click,
    ClickLog,
    EvaluationError,
    ImplicitCosineModel,
    Metrics,
    OursModel,
    PopularityModel,
    VSKNNConfig,
    VSKNNModel,
    evaluate_models,
    prepare_test,
)


def log_of(*sessions: str, start: float = 0.0) -> ClickLog:
    return ClickLog.from_clicks(
        Click(f"s{n}", item, start + 1000.0 * n + position)
        for n, session in enumerate(sessions)
        for position, item in enumerate(session)
    )


def test_metrics_on_a_hand_computed_example() -> None:
    metrics = Metrics(n_train_items=4, popularity=np.array([1.0, 0.5, 0.25, 0.0]), cutoffs=(1, 2, 5))
    metrics.add([0, 1, 2], target=1)  # rank 2
    metrics.add([2, 0], target=3)  # miss
    metrics.add([3], target=3)  # rank 1
    figures = metrics.summary()
    assert figures["hr@1"] == pytest.approx(1 / 3)
    assert figures["hr@2"] == pytest.approx(2 / 3)
    assert figures["hr@5"] == pytest.approx(2 / 3)
    assert figures["mrr@1"] == pytest.approx(1 / 3)
    assert figures["mrr@2"] == pytest.approx((1 / 2 + 1) / 3)
    assert figures["coverage@20"] == pytest.approx(4 / 4)
    assert figures["popularity@20"] == pytest.approx(((1.0 + 0.5 + 0.25) / 3 + (0.25 + 1.0) / 2 + 0.0) / 3)


def test_metrics_without_predictions_is_an_error() -> None:
    with pytest.raises(EvaluationError):
        Metrics(n_train_items=1, popularity=np.ones(1)).summary()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 9), max_size=25, unique=True), st.integers(0, 9)), min_size=1,
                max_size=20))
def test_hit_rate_grows_with_k_and_bounds_mrr(cases: list[tuple[list[int], int]]) -> None:
    metrics = Metrics(n_train_items=10, popularity=np.linspace(0, 1, 10))
    for recommended, target in cases:
        metrics.add(recommended, target)
    figures = metrics.summary()
    assert figures["hr@5"] <= figures["hr@10"] <= figures["hr@20"] <= 1.0
    for k in (5, 10, 20):
        assert figures[f"hr@{k}"] / k <= figures[f"mrr@{k}"] + 1e-12 <= figures[f"hr@{k}"] + 2e-12
    assert 0.0 <= figures["coverage@20"] <= 1.0 and 0.0 <= figures["popularity@20"] <= 1.0


def test_protocol_drops_unseen_items_then_short_sessions() -> None:
    train = log_of("AB", "BC")
    test = log_of("AXB", "XC", "CA", "XY")
    cases = prepare_test(train, test)
    assert cases.dropped_unseen_clicks == 4
    assert cases.dropped_short_sessions == 1  # "XC" leaves only C; "XY" leaves nothing
    assert cases.n_predictions == 2 and cases.n_clicks == 4
    code = {item: n for n, item in enumerate(train.item_ids)}
    assert [(p.tolist(), t) for p, _, t in cases.cases()] == [([code["A"]], code["B"]), ([code["C"]], code["A"])]


class Scripted:
    """A model whose answers are fixed, to check the evaluation loop itself."""

    def __init__(self) -> None:
        self.fitted = False
        self.calls: list[list[int]] = []

    def fit(self, train: ClickLog) -> None:
        self.fitted = True

    def predict(self, items: Sequence[int], times: Sequence[float], k: int) -> list[int]:
        self.calls.append(list(items))
        return [0, 1][:k]

    def config(self) -> dict[str, Any]:
        return {"scripted": True}


def test_evaluation_loop_asks_every_prefix_and_reports_the_schema() -> None:
    train = log_of("ABC", "AB", "A")  # codes A=0, B=1, C=2
    test = log_of("ABC", "CA")
    model = Scripted()
    ticks = iter(float(n) for n in range(1000))
    report = evaluate_models(train, test, {"scripted": model}, progress=False, clock=lambda: next(ticks))
    assert model.fitted and model.calls == [[0], [0, 1], [2]]
    figures = report.models["scripted"]
    assert figures["hr@5"] == pytest.approx(2 / 3)  # B at rank 2, C missed, A (target of "CA") at rank 1
    assert figures["mrr@5"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert figures["coverage@20"] == pytest.approx(2 / 3)
    assert figures["fit_s"] == 1.0 and figures["predict_ms_p50"] == pytest.approx(1000.0)
    expected = {f"hr@{k}" for k in (5, 10, 20)} | {f"mrr@{k}" for k in (5, 10, 20)}
    expected |= {"coverage@20", "popularity@20", "fit_s", "predict_ms_p50", "predict_ms_p99"}
    assert set(figures) == expected
    assert report.dataset["predictions"] == 3 and report.to_json()["configs"] == {"scripted": {"scripted": True}}
    with pytest.raises(EvaluationError):
        evaluate_models(train, log_of("XY"), {"scripted": Scripted()}, progress=False)


def test_vsknn_weighs_neighbours_by_position_and_samples_the_most_recent() -> None:
    # S0 (old) shares A with the prefix, S1 (recent) shares B; the prefix is A then B.
    train = log_of("AX", "BY")
    code = {item: n for n, item in enumerate(train.item_ids)}
    plain = VSKNNConfig(k=10, sample_size=0, idf_weighting=0.0)
    model = VSKNNModel(plain)
    model.fit(train)
    ranked = model.predict([code["A"], code["B"]], [0.0, 1.0], k=4)
    # sim(S1) = w(B)=1 over 2 items = 0.5, decay 1 -> B, Y score 0.5
    # sim(S0) = w(A)=1/2 over 2 = 0.25, decay 1/2 (A is one step back) -> A, X score 0.125
    assert ranked == [code["B"], code["Y"], code["A"], code["X"]]
    recent_only = VSKNNModel(VSKNNConfig(k=10, sample_size=1, idf_weighting=0.0))
    recent_only.fit(train)
    assert set(recent_only.predict([code["A"], code["B"]], [0.0, 1.0], k=4)) == {code["B"], code["Y"]}
    nearest_only = VSKNNModel(VSKNNConfig(k=1, sample_size=0, idf_weighting=0.0))
    nearest_only.fit(train)
    assert set(nearest_only.predict([code["B"], code["A"]], [0.0, 1.0], k=4)) == {code["A"], code["X"]}


def test_popularity_and_implicit_and_ours_answer_in_training_codes() -> None:
    train = log_of("ABC", "ABD", "AB", "CD", "B")
    code = {item: n for n, item in enumerate(train.item_ids)}
    pop = PopularityModel()
    pop.fit(train)
    assert pop.predict([code["D"]], [0.0], 2) == [code["B"], code["A"]]  # B 4 clicks, A 3 (lower code first)
    cosine = ImplicitCosineModel(neighbours=10)
    cosine.fit(train)
    answer = cosine.predict([code["A"]], [0.0], 3)
    assert answer and answer[0] in (code["A"], code["B"]) and set(answer) <= set(code.values())
    ours = OursModel()
    ours.fit(train)
    assert ours.predict([code["A"]], [0.0], 3)[:2] == [code["A"], code["B"]]  # the reminder, then what follows A
