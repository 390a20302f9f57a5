"""Offline evaluation with session-rec's protocol, the same code for every model.

Protocol (Ludewig, Jannach et al.): test clicks on items never seen in training are
dropped, then sessions with fewer than two clicks; for every prefix of a test session the
model ranks all training items and the next click is the target. Reported per model:

* ``hr@K``: share of predictions whose target is in the top ``K``;
* ``mrr@K``: mean of ``1 / rank`` of the target (0 when it is not in the top ``K``);
* ``coverage@20``: share of training items that appear in any top-20 list;
* ``popularity@20``: mean over predictions of the mean popularity of the listed items,
  an item's popularity being its training clicks over the most clicked item's;
* ``fit_s``, ``predict_ms_p50``, ``predict_ms_p99``: wall time to fit, and per prediction.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recommender._baselines import SessionModel, default_models
from recommender._events import ClickLog, read_event_log
from recommender.exceptions import EvaluationError

CUTOFFS = (5, 10, 20)
COVERAGE_CUTOFF = 20
MODEL_NAMES = ("ours", "pop", "vsknn", "implicit_cosine")


@dataclass(frozen=True, eq=False)
class TestCases:
    """The test sessions in training item codes, after the protocol's filters."""

    sessions: tuple[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]], ...]
    dropped_unseen_clicks: int
    dropped_short_sessions: int

    @property
    def n_predictions(self) -> int:
        """How many next clicks are predicted (every click but each session's first)."""
        return sum(items.shape[0] - 1 for items, _ in self.sessions)

    @property
    def n_clicks(self) -> int:
        """Test clicks kept."""
        return sum(items.shape[0] for items, _ in self.sessions)

    def cases(self) -> Iterator[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], int]]:
        """Every (prefix items, prefix times, next item)."""
        for items, times in self.sessions:
            for end in range(1, items.shape[0]):
                yield items[:end], times[:end], int(items[end])


def prepare_test(train: ClickLog, test: ClickLog) -> TestCases:
    """Map test clicks to training codes; drop unseen items, then sessions shorter than two."""
    code = {item: index for index, item in enumerate(train.item_ids)}
    to_train = np.fromiter((code.get(i, -1) for i in test.item_ids), dtype=np.int64, count=len(test.item_ids))
    mapped = to_train[test.items] if len(test) else np.zeros(0, dtype=np.int64)
    seen = mapped >= 0
    sessions = test.sessions[seen]
    items = mapped[seen].astype(np.int32)
    times = test.times[seen]
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(sessions)) + 1, [sessions.shape[0]]))
    kept = []
    short = 0
    for start, end in itertools.pairwise(bounds.tolist()):
        if end - start >= 2:
            kept.append((items[start:end], times[start:end]))
        elif end > start:
            short += 1
    return TestCases(tuple(kept), int((~seen).sum()), short)


@dataclass
class Metrics:
    """Accumulates the protocol's figures over predictions."""

    n_train_items: int
    popularity: npt.NDArray[np.float64]  # per training item, 1.0 for the most clicked
    cutoffs: tuple[int, ...] = CUTOFFS
    predictions: int = 0
    hits: dict[int, int] = field(default_factory=dict)
    reciprocal_ranks: dict[int, float] = field(default_factory=dict)
    covered: set[int] = field(default_factory=set)
    popularity_sum: float = 0.0

    def add(self, recommended: Sequence[int], target: int) -> None:
        """Record one ranked list (best first) against the true next item."""
        self.predictions += 1
        try:
            rank = list(recommended).index(target) + 1
        except ValueError:
            rank = 0
        for cutoff in self.cutoffs:
            if 0 < rank <= cutoff:
                self.hits[cutoff] = self.hits.get(cutoff, 0) + 1
                self.reciprocal_ranks[cutoff] = self.reciprocal_ranks.get(cutoff, 0.0) + 1.0 / rank
        top = list(dict.fromkeys(recommended[:COVERAGE_CUTOFF]))
        self.covered.update(top)
        if top:
            self.popularity_sum += float(self.popularity[top].mean())

    def summary(self) -> dict[str, float]:
        """The figures, keyed as in the report (``hr@5`` ... ``popularity@20``)."""
        if not self.predictions:
            raise EvaluationError("no prediction was made: the test set has nothing to predict")
        figures: dict[str, float] = {}
        for cutoff in self.cutoffs:
            figures[f"hr@{cutoff}"] = self.hits.get(cutoff, 0) / self.predictions
        for cutoff in self.cutoffs:
            figures[f"mrr@{cutoff}"] = self.reciprocal_ranks.get(cutoff, 0.0) / self.predictions
        figures[f"coverage@{COVERAGE_CUTOFF}"] = len(self.covered) / self.n_train_items
        figures[f"popularity@{COVERAGE_CUTOFF}"] = self.popularity_sum / self.predictions
        return figures


def train_popularity(train: ClickLog) -> npt.NDArray[np.float64]:
    """Training clicks per item over the most clicked item's (session-rec's popularity)."""
    counts = np.bincount(train.items, minlength=len(train.item_ids)).astype(np.float64)
    top = counts.max() if counts.shape[0] else 0.0
    return counts / top if top > 0 else counts


@dataclass(frozen=True)
class EvaluationReport:
    """Figures per model plus what they were computed on."""

    models: Mapping[str, Mapping[str, float]]
    dataset: Mapping[str, Any]
    configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``models``, ``dataset``, ``configs``)."""
        return {
            "models": {name: dict(figures) for name, figures in self.models.items()},
            "dataset": dict(self.dataset),
            "configs": {name: dict(config) for name, config in self.configs.items()},
        }


def evaluate_models(
    train: ClickLog,
    test: ClickLog,
    models: Mapping[str, SessionModel],
    progress: bool = True,
    dataset: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> EvaluationReport:
    """Fit every model on ``train`` and measure it on every prefix of ``test``.

    Raises:
        EvaluationError: the filtered test set leaves nothing to predict.
    """
    from tqdm import tqdm  # the ``eval`` extra's, like the peer library: kiosks never evaluate

    cases = prepare_test(train, test)
    if not cases.n_predictions:
        raise EvaluationError("no test session has two clicks on training items: nothing to predict")
    popularity = train_popularity(train)
    k = max(max(CUTOFFS), COVERAGE_CUTOFF)
    results: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        started = clock()
        model.fit(train)
        fit_s = clock() - started
        metrics = Metrics(len(train.item_ids), popularity)
        latencies = np.empty(cases.n_predictions, dtype=np.float64)
        bar = tqdm(
            total=cases.n_predictions, desc=f"{name:>15}", unit="pred", disable=not progress,
            file=sys.stderr, mininterval=0.5, leave=True,
        )
        with bar:
            for n, (items, times, target) in enumerate(cases.cases()):
                started = clock()
                recommended = model.predict(items.tolist(), times.tolist(), k)
                latencies[n] = clock() - started
                metrics.add(recommended, target)
                if n % 256 == 255:
                    bar.update(256)
            bar.update(cases.n_predictions - bar.n)
        figures = metrics.summary()
        figures["fit_s"] = fit_s
        figures["predict_ms_p50"] = float(np.percentile(latencies, 50) * 1000)
        figures["predict_ms_p99"] = float(np.percentile(latencies, 99) * 1000)
        results[name] = figures
    info = {
        "train_clicks": len(train),
        "train_sessions": train.n_sessions,
        "train_items": len(train.item_ids),
        "test_clicks": cases.n_clicks,
        "test_sessions": len(cases.sessions),
        "test_clicks_dropped_unseen_item": cases.dropped_unseen_clicks,
        "test_sessions_dropped_short": cases.dropped_short_sessions,
        "predictions": cases.n_predictions,
        "protocol": "session-rec: next click for every prefix, ranked against all training items",
        **(dataset or {}),
    }
    return EvaluationReport(results, info, {name: model.config() for name, model in models.items()})


def evaluate_files(
    train_path: str | Path,
    test_path: str | Path,
    model_names: Sequence[str] = MODEL_NAMES,
    progress: bool = True,
) -> EvaluationReport:
    """Read session-rec TSV files and evaluate the named models (the CLI's and benchmark's entry).

    Raises:
        EventLogError: a file is unreadable or malformed; EmptyEventLogError: it has no clicks.
        EvaluationError: nothing to predict.
        ValueError: an unknown model name.
    """
    available = default_models()
    unknown = [name for name in model_names if name not in available]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    train = read_event_log([train_path])
    test = read_event_log([test_path])
    models = {name: available[name] for name in model_names}
    dataset = {"train": str(train_path), "test": str(test_path)}
    return evaluate_models(train, test, models, progress=progress, dataset=dataset)


def write_report(report: EvaluationReport, path: str | Path) -> None:
    """Write the report as indented JSON."""
    Path(path).write_text(json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def format_report(report: EvaluationReport) -> str:
    """The figures as a fixed-width table, one row per model."""
    columns = [f"hr@{c}" for c in CUTOFFS] + [f"mrr@{c}" for c in CUTOFFS]
    columns += ["coverage@20", "popularity@20", "fit_s", "predict_ms_p50", "predict_ms_p99"]
    width = max(len(name) for name in report.models) if report.models else 5
    data = report.dataset
    lines = [
        f"{data.get('train', 'train')} -> {data.get('test', 'test')}: {data.get('predictions')} predictions, "
        f"{data.get('train_items')} training items, {data.get('test_clicks_dropped_unseen_item')} test clicks "
        f"on unseen items dropped",
        " ".join([f"{'model':<{width}}", *(f"{c:>14}" for c in columns)]),
    ]
    for name, figures in report.models.items():
        lines.append(" ".join([f"{name:<{width}}", *(f"{figures[c]:>14.4f}" for c in columns)]))
    return "\n".join(lines)
