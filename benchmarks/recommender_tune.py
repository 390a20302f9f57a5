"""Tune ``ours``, ``vsknn`` and ``implicit_cosine`` the same way on the same data.

Every candidate setting is measured with the evaluation code of the report
(``recommender.evaluate_models``) on train_tr → train_valid and scored by HR@20 + MRR@20;
the best setting of each model becomes its default in the code. As the data README
allows, tuning and reporting use the same day (train_valid): no model gets a held-out
advantage over another. ``ours`` is tuned by coordinate search (one setting at a time,
two passes), ``vsknn`` and ``implicit_cosine`` by full grids.

    .venv/bin/python -m benchmarks.recommender_tune [--data DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

from recommender import (
    BuildConfig,
    ClickLog,
    ImplicitCosineModel,
    OursModel,
    SessionModel,
    VSKNNConfig,
    VSKNNModel,
    evaluate_models,
    read_event_log,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yoochoose-clicks-100k"
RESULTS = Path(__file__).resolve().parent / "results" / "recommender_tune.json"

OURS_SPACE: dict[str, list[Any]] = {
    "covisit.window": [3, 5, 8],
    "covisit.backward_weight": [0.25, 0.5, 1.0],
    "covisit.distance_exponent": [0.5, 1.0, 2.0],
    "covisit.session_half_life_days": [None, 1.0, 2.0, 4.0],
    "covisit.max_neighbours": [50, 100, 200],
    "scoring.position_decay": [0.5, 0.75, 1.0, 1.5, 2.0],
    "scoring.remind_weight": [0.0, 0.5, 1.0, 2.0],
}
VSKNN_GRID: dict[str, list[Any]] = {
    "k": [50, 100, 200, 500],
    "sample_size": [500, 1000],
    "weighting": ["linear", "quadratic"],
    "idf_weighting": [0.0, 1.0, 5.0],
}
IMPLICIT_K = [20, 50, 100, 200, 500]


def measure(train: ClickLog, test: ClickLog, model: SessionModel) -> dict[str, float]:
    """HR@20 and MRR@20 (and the rest) of one model setting."""
    return dict(evaluate_models(train, test, {"candidate": model}, progress=False).models["candidate"])


def objective(figures: dict[str, float]) -> float:
    """What tuning maximises, the same for every model."""
    return figures["hr@20"] + figures["mrr@20"]


def with_setting(config: BuildConfig, dotted: str, value: Any) -> BuildConfig:
    """``config`` with ``covisit.window`` (say) set to ``value``."""
    part, name = dotted.split(".")
    return dataclasses.replace(config, **{part: dataclasses.replace(getattr(config, part), **{name: value})})


def tune_ours(train: ClickLog, test: ClickLog, log: list[dict[str, Any]]) -> BuildConfig:
    """Coordinate search from the current defaults."""
    best_config = BuildConfig()
    best = objective(measure(train, test, OursModel(best_config)))
    for _ in range(2):
        improved = False
        for setting, values in OURS_SPACE.items():
            for value in values:
                candidate = with_setting(best_config, setting, value)
                if candidate == best_config:
                    continue
                figures = measure(train, test, OursModel(candidate))
                log.append({"model": "ours", "setting": {setting: value}, **figures})
                report("ours", f"{setting}={value}", figures)
                if objective(figures) > best + 1e-9:
                    best, best_config, improved = objective(figures), candidate, True
        if not improved:
            break
    return best_config


def tune_vsknn(train: ClickLog, test: ClickLog, log: list[dict[str, Any]]) -> VSKNNConfig:
    """Full grid."""
    best_config, best = VSKNNConfig(), -1.0
    for values in itertools.product(*VSKNN_GRID.values()):
        setting = dict(zip(VSKNN_GRID, values, strict=True))
        config = dataclasses.replace(VSKNNConfig(), **setting)
        figures = measure(train, test, VSKNNModel(config))
        log.append({"model": "vsknn", "setting": setting, **figures})
        report("vsknn", " ".join(f"{k}={v}" for k, v in setting.items()), figures)
        if objective(figures) > best:
            best, best_config = objective(figures), config
    return best_config


def tune_implicit(train: ClickLog, test: ClickLog, log: list[dict[str, Any]]) -> int:
    """Neighbourhood size."""
    best_k, best = IMPLICIT_K[0], -1.0
    for k in IMPLICIT_K:
        figures = measure(train, test, ImplicitCosineModel(k))
        log.append({"model": "implicit_cosine", "setting": {"K": k}, **figures})
        report("implicit_cosine", f"K={k}", figures)
        if objective(figures) > best:
            best, best_k = objective(figures), k
    return best_k


def report(model: str, setting: str, figures: dict[str, float]) -> None:
    """One line per candidate."""
    print(f"{model:>15} {setting:<60} HR@20 {figures['hr@20']:.4f} MRR@20 {figures['mrr@20']:.4f}", flush=True)


def main() -> int:
    """Tune all three, print the winners, write the full log as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--only", choices=["ours", "vsknn", "implicit_cosine"], action="append")
    args = parser.parse_args()
    train = read_event_log([args.data / "train_tr.tsv"])
    test = read_event_log([args.data / "train_valid.tsv"])
    only = set(args.only or ["ours", "vsknn", "implicit_cosine"])
    log: list[dict[str, Any]] = []
    winners: dict[str, Any] = {}
    started = time.perf_counter()
    if "ours" in only:
        winners["ours"] = tune_ours(train, test, log).to_json()
    if "vsknn" in only:
        winners["vsknn"] = dataclasses.asdict(tune_vsknn(train, test, log))
    if "implicit_cosine" in only:
        winners["implicit_cosine"] = {"K": tune_implicit(train, test, log)}
    print(json.dumps(winners, indent=2))
    print(f"tuned in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"objective": "hr@20 + mrr@20", "winners": winners, "candidates": log}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
