"""A side-by-side bar chart of an evaluation report (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path

from recommender._evaluate import EvaluationReport

_QUALITY = ("hr@5", "hr@10", "hr@20", "mrr@5", "mrr@10", "mrr@20", "coverage@20", "popularity@20")
_COLOURS = ("#1b6ca8", "#9e9e9e", "#e07b39", "#5a9e4b", "#8e5ea2", "#c44e52")


def plot_report(report: EvaluationReport, path: str | Path) -> None:
    """Draw quality figures and prediction latency of every model side by side into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report.models)
    figure, (quality, latency) = plt.subplots(
        1, 2, figsize=(16, 6.5), gridspec_kw={"width_ratios": [3.2, 1]}, constrained_layout=True
    )
    width = 0.8 / max(len(names), 1)
    for m, name in enumerate(names):
        figures = report.models[name]
        xs = [q + (m - (len(names) - 1) / 2) * width for q in range(len(_QUALITY))]
        values = [figures[metric] for metric in _QUALITY]
        bars = quality.bar(xs, values, width * 0.95, label=name, color=_COLOURS[m % len(_COLOURS)])
        quality.bar_label(bars, labels=[f"{v:.3f}" for v in values], rotation=90, padding=2, fontsize=8)
    quality.set_xticks(range(len(_QUALITY)), [metric.upper() for metric in _QUALITY], fontsize=10)
    quality.set_ylim(0, 1.12)
    quality.set_ylabel("share (higher is better, except popularity)")
    quality.set_title(_title(report), fontsize=11)
    quality.legend(loc="upper left", ncols=len(names), fontsize=10, frameon=False)
    quality.grid(axis="y", alpha=0.3)

    for m, name in enumerate(names):
        figures = report.models[name]
        xs = [p + (m - (len(names) - 1) / 2) * width for p in range(2)]
        values = [figures["predict_ms_p50"], figures["predict_ms_p99"]]
        bars = latency.bar(xs, values, width * 0.95, label=name, color=_COLOURS[m % len(_COLOURS)])
        latency.bar_label(bars, labels=[f"{v:.3g}" for v in values], rotation=90, padding=2, fontsize=8)
    latency.set_xticks(range(2), ["p50", "p99"], fontsize=10)
    latency.set_yscale("log")
    latency.set_ylabel("milliseconds per prediction (log scale)")
    latency.set_title("Prediction latency, one thread", fontsize=11)
    latency.grid(axis="y", alpha=0.3, which="both")
    low, high = latency.get_ylim()
    latency.set_ylim(low, high * 8)  # room for the labels above the bars
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _title(report: EvaluationReport) -> str:
    data = report.dataset
    train = Path(str(data.get("train", "train"))).name
    test = Path(str(data.get("test", "test"))).name
    return (
        f"Next-click prediction, session-rec protocol: {train} → {test} "
        f"({data.get('predictions', '?')} predictions over {data.get('train_items', '?')} items)"
    )
