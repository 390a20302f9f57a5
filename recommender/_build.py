"""Building a model from a catalog, an event log, or both."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommender._content import ContentConfig, content_neighbours
from recommender._covisit import CovisitConfig, build_covisitation, item_popularity, session_decay
from recommender._events import ClickLog
from recommender._model import ModelData, ModelInfo, Recommender
from recommender._session import ScoringConfig
from recommender._table import NeighbourTable
from recommender._types import ItemFeatures
from recommender.exceptions import CatalogInputError, EmptyCatalogError, EmptyEventLogError, InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build can be told; the defaults are the tuned ones."""

    covisit: CovisitConfig = field(default_factory=CovisitConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    popularity_half_life_days: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The config as JSON-ready data."""
        return dataclasses.asdict(self)


def build_model(
    items: Sequence[ItemFeatures] | None = None,
    events: ClickLog | None = None,
    config: BuildConfig | None = None,
) -> Recommender:
    """Build a model from catalog items, click events, or both.

    With items only it is a content-only model (what a kiosk builds for itself when it has
    no model file); with events only it has no stock and no content side (evaluation).
    Items seen in events but missing from the catalog stay in the model: they anchor a
    history (a product seen online) though they are never shown.

    Raises:
        EmptyCatalogError: ``items`` is given but empty.
        EmptyEventLogError: ``events`` is given but has no clicks.
        CatalogInputError: two items share an id.
        InputError: neither items nor events given.
    """
    config = config or BuildConfig()
    if items is None and events is None:
        raise InputError("a model needs catalog items, events, or both")
    if items is not None and not items:
        raise EmptyCatalogError("the catalog has no items")
    if events is not None and not len(events):
        raise EmptyEventLogError("the event log has no clicks")
    catalog = list(items or ())
    index: dict[str, int] = {}
    for item in catalog:
        if item.item_id in index:
            raise CatalogInputError(f"item {item.item_id} appears twice in the catalog")
        index[item.item_id] = len(index)
    if events is not None:
        for item_id in events.item_ids:
            index.setdefault(item_id, len(index))
    item_ids = tuple(index)
    n = len(item_ids)
    features: list[ItemFeatures | None] = [*catalog, *([None] * (n - len(catalog)))]

    if events is not None:
        to_model = np.fromiter((index[i] for i in events.item_ids), dtype=np.int32, count=len(events.item_ids))
        clicks = to_model[events.items]
        covisitation = build_covisitation(clicks, events.sessions, events.times, n, config.covisit)
        decay = session_decay(events.sessions, events.times, config.popularity_half_life_days)
        popularity = item_popularity(clicks, decay, n)
        popularity_store_ids = events.store_ids
        store_popularity = np.zeros((len(popularity_store_ids), n), dtype=np.float32)
        for code in range(len(popularity_store_ids)):
            at_store = events.stores == code
            store_popularity[code] = item_popularity(clicks[at_store], decay[at_store], n)
        covisit_table, repeat = covisitation.table, covisitation.repeat
    else:
        covisit_table, repeat = NeighbourTable.empty(n), np.zeros(n, dtype=np.float32)
        popularity = np.zeros(n, dtype=np.float32)
        popularity_store_ids, store_popularity = (), np.zeros((0, n), dtype=np.float32)

    content = content_neighbours(features, config.content) if catalog else NeighbourTable.empty(n)
    stock_store_ids = tuple(sorted({store for item in catalog for store in item.stock}))
    in_stock = np.zeros((len(stock_store_ids), n), dtype=np.bool_)
    for s, store in enumerate(stock_store_ids):
        in_stock[s, : len(catalog)] = [item.stock.get(store, 0) > 0 for item in catalog]
    group_code: dict[str, int] = {}
    groups = np.full(n, -1, dtype=np.int32)
    groups[: len(catalog)] = [group_code.setdefault(item.diversity_group, len(group_code)) for item in catalog]
    has_features = np.zeros(n, dtype=np.bool_)
    has_features[: len(catalog)] = True

    data = ModelData(
        item_ids=item_ids,
        covisit=covisit_table,
        repeat=repeat,
        content=content,
        popularity=popularity,
        has_features=has_features,
        groups=groups,
        stock_store_ids=stock_store_ids,
        in_stock=in_stock,
        popularity_store_ids=popularity_store_ids,
        store_popularity=store_popularity,
    )
    info = ModelInfo(
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        n_items=n,
        n_catalog_items=len(catalog),
        n_clicks=len(events) if events is not None else 0,
        n_sessions=events.n_sessions if events is not None else 0,
        covisit_pairs=covisit_table.n_pairs,
        content_pairs=content.n_pairs,
        build_config=config.to_json(),
    )
    log.info(
        "built model: %d items (%d in catalog), %d co-visitation and %d content pairs",
        n, len(catalog), covisit_table.n_pairs, content.n_pairs,
    )
    return Recommender(data, info, config.scoring)
