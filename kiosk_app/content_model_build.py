"""``python -m kiosk_app.content_model_build CATALOG MODEL``: the content-only model of a
catalog file, written to MODEL at a priority below the screen's.

The kiosk runs it as a child process for a large catalog (``kiosk_app._models``), so the
build's long numpy and scikit-learn calls cannot hold the GIL from the screen's thread.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kiosk_app._catalog_features import item_features
from kiosk_protocol import CatalogError, load_catalog
from recommender import RecommenderError, build_model, save_model

NICENESS = 10


def main(argv: Sequence[str] | None = None) -> int:
    """Build CATALOG's content model into MODEL; 0 when written, 1 with the reason on stderr when not."""
    parser = argparse.ArgumentParser(prog="python -m kiosk_app.content_model_build",
                                     description="Build a catalog's content-only suggestion model.")
    parser.add_argument("catalog", type=Path, help="the catalog file (JSON)")
    parser.add_argument("model", type=Path, help="where to write the model file")
    args = parser.parse_args(argv)
    # On a kiosk's few cores the frames a shopper is looking at come before a model that
    # is ready a little later.
    os.nice(NICENESS)
    try:
        save_model(build_model(item_features(load_catalog(args.catalog))), args.model)
    except (CatalogError, RecommenderError, OSError) as exc:
        print(f"content model not built: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
