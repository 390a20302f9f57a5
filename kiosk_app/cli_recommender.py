"""``kiosk recommender``: build the suggestion model and evaluate it offline.

The recommender (scikit-learn, SciPy) is imported only inside the commands, so that
every other ``kiosk`` command starts quickly. ``build`` runs at HQ and on any kiosk;
``evaluate`` needs the ``eval`` extra (the peer library, progress bars, the plot).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def recommender() -> None:
    """Build and evaluate the suggestion model."""


@recommender.command()
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Catalog JSON.")
@click.option(
    "--events", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
    help="Click log TSV (SessionId, ItemId, Time[, Channel, Store, Kind]); repeat for several channels. "
         "Rows of Kind 'order' (`kiosk hq export-events`) are counted apart: the model is built on views.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Model file.")
def build(catalog: Path | None, events: tuple[Path, ...], output: Path) -> None:
    """Build a versioned model file from a catalog, click logs, or both."""
    from kiosk_app._catalog_features import item_features
    from kiosk_protocol import CatalogError, load_catalog
    from recommender import RecommenderError, build_model, read_event_log, save_model

    if catalog is None and not events:
        raise click.UsageError("give --catalog, --events or both")
    try:
        items = item_features(load_catalog(catalog)) if catalog is not None else None
        log = read_event_log(list(events)) if events else None
        model = build_model(items, log)
        digest = save_model(model, output)
    except (RecommenderError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from exc
    info = model.info
    skipped = f", {log.skipped_rows} malformed rows skipped" if log is not None and log.skipped_rows else ""
    orders = log.orders if log is not None else None
    apart = f", {len(orders)} order lines of {orders.n_sessions} orders kept apart" if orders is not None else ""
    click.echo(
        f"model {output}: {info.n_items} items ({info.n_catalog_items} in the catalog), "
        f"{info.n_clicks} clicks in {info.n_sessions} sessions{skipped}{apart}, "
        f"{info.covisit_pairs} co-visitation and {info.content_pairs} content pairs, sha256 {digest[:16]}"
    )


@recommender.command()
@click.option("--train", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--test", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw the figures into this PNG.")
@click.option(
    "--models", default="ours,pop,vsknn,implicit_cosine", show_default=True, help="Comma-separated models to run."
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def evaluate(train: Path, test: Path, json_path: Path, plot: Path | None, models: str, progress: bool) -> None:
    """Evaluate the models on session files with session-rec's protocol."""
    from kiosk_app import _extras

    lacking = _extras.missing(["eval"])
    if lacking:
        raise click.ClickException(_extras.refusal("kiosk recommender evaluate", ["eval"], lacking))
    from recommender import MODEL_NAMES, RecommenderError, evaluate_files, format_report, plot_report, write_report

    names = [name.strip() for name in models.split(",") if name.strip()]
    unknown = sorted(set(names) - set(MODEL_NAMES)) or ([] if names else ["(none)"])
    if unknown:
        choices = ", ".join(MODEL_NAMES)
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {choices}", param_hint="--models")
    try:
        report = evaluate_files(train, test, names, progress=progress)
    except RecommenderError as exc:
        raise click.ClickException(str(exc)) from exc
    write_report(report, json_path)
    if plot is not None:
        plot_report(report, plot)
    click.echo(format_report(report))
    click.echo(f"written: {json_path}" + (f", {plot}" if plot is not None else ""))
