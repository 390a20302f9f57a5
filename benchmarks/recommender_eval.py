"""Offline evaluation of the recommender on YOOCHOOSE (train_tr → train_valid).

Runs exactly what ``kiosk recommender evaluate`` runs (``recommender.evaluate_files``) for
``ours``, ``pop``, ``vsknn`` and ``implicit_cosine``, prints the table, and writes
``benchmarks/results/recommender_eval.json`` and ``docs/recommender_eval.png``.

    .venv/bin/python -m benchmarks.recommender_eval [--data DIR] [--json OUT] [--plot PNG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recommender import evaluate_files, format_report, plot_report, write_report

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "yoochoose-clicks-100k"


def main() -> int:
    """Evaluate, print, write the JSON and the plot; exit 1 if ours does not beat vsknn on HR@20 and MRR@20."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "recommender_eval.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "recommender_eval.png")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    report = evaluate_files(args.data / "train_tr.tsv", args.data / "train_valid.tsv", progress=not args.no_progress)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    write_report(report, args.json)
    plot_report(report, args.plot)
    print(format_report(report))
    print(f"written: {args.json}, {args.plot}")
    ours, vsknn = report.models["ours"], report.models["vsknn"]
    beats = ours["hr@20"] > vsknn["hr@20"] and ours["mrr@20"] > vsknn["mrr@20"]
    print(f"ours beats vsknn on HR@20 and MRR@20: {'yes' if beats else 'NO'}")
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
