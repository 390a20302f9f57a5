"""The model the kiosk suggests with: HQ's model file, checked before use, or a
content-only model of its catalog while HQ has sent none."""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

from kiosk_app._catalog_features import item_features
from kiosk_protocol import Catalog
from recommender import Recommender, RecommenderError, build_model, load_model

log = logging.getLogger(__name__)

# From this many products on, a content model is built by a child process; below it the
# build takes a fraction of a second, not worth a process.
BUILD_ASIDE_FROM = 2_000


def model_problem(path: Path) -> str | None:
    """What the recommender finds wrong with a model file, or None (the check a model update passes)."""
    try:
        load_model(path)
    except RecommenderError as exc:
        return str(exc)
    return None


def usable_model(path: Path | None) -> Recommender | None:
    """HQ's model at ``path``, or None when there is none or it cannot be read (a content model is built then)."""
    if path is None:
        return None
    try:
        return load_model(path)
    except RecommenderError as exc:
        log.error("HQ's model %s cannot be used, suggesting from the catalog alone: %s", path, exc)
        return None


def content_model(catalog: Catalog, catalog_file: Path) -> Recommender:
    """Suggestions from ``catalog`` alone (read from ``catalog_file``), for a kiosk that has no model from HQ.

    A large catalog's model is built by ``python -m kiosk_app.content_model_build`` and
    read back from its model file: built in this process, its long numpy and scikit-learn
    calls held the GIL from the screen's thread, frames of 100-400 ms for the ~30 s a
    50,000-product catalog takes. Should the child fail, the model is built here after all.
    """
    if len(catalog.products) < BUILD_ASIDE_FROM:
        return build_model(item_features(catalog))
    with tempfile.TemporaryDirectory(prefix="content-model-") as folder:
        model_file = Path(folder) / "model.rec"
        command = [sys.executable, "-m", "kiosk_app.content_model_build", str(catalog_file), str(model_file)]
        try:
            built = subprocess.run(command, check=False, capture_output=True, text=True)
            if built.returncode == 0:
                return load_model(model_file)
            problem = built.stderr.strip()[-500:] or f"exit status {built.returncode}"
        except (OSError, RecommenderError) as exc:
            problem = str(exc)
    log.warning("content model not built by a child process (%s): building it here", problem)
    return build_model(item_features(catalog))
