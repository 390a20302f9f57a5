"""The built model and the two questions the kiosk asks it: ``rank`` and ``suggest``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from recommender._rules import explain, pick_diverse, popularity_reason
from recommender._session import Scores, ScoringConfig, WeightedHistory, score_history, weigh_history
from recommender._table import NeighbourTable
from recommender._types import HistoryEvent, ScoredItem, Suggestion, Suggestions
from recommender.exceptions import UnknownStoreError

# Candidates sorted exactly per request before falling back to a full sort (keeps p99 low).
_FIRST_CUT = 64


@dataclass(frozen=True, eq=False)
class ModelData:
    """Every array of a model, indexed by item position in ``item_ids``."""

    item_ids: tuple[str, ...]
    covisit: NeighbourTable
    repeat: npt.NDArray[np.float32]
    content: NeighbourTable
    popularity: npt.NDArray[np.float32]
    has_features: npt.NDArray[np.bool_]
    groups: npt.NDArray[np.int32]  # -1: no catalog features, the item is a group of its own
    stock_store_ids: tuple[str, ...]
    in_stock: npt.NDArray[np.bool_]  # (store, item), from the catalog the model was built with
    popularity_store_ids: tuple[str, ...]
    store_popularity: npt.NDArray[np.float32]  # (store, item)

    def nbytes(self) -> int:
        """Bytes held by the arrays (the item id strings are not counted)."""
        arrays = [self.repeat, self.popularity, self.has_features, self.groups, self.in_stock, self.store_popularity]
        for table in (self.covisit, self.content):
            arrays += [table.indptr, table.indices, table.weights]
        return sum(int(a.nbytes) for a in arrays)


@dataclass(frozen=True)
class ModelInfo:
    """What a model was built from, for logs and staff screens."""

    built_at: str
    n_items: int
    n_catalog_items: int
    n_clicks: int
    n_sessions: int
    covisit_pairs: int
    content_pairs: int
    build_config: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The info as JSON-ready data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class RecommenderCounters:
    """Running counts staff want to see."""

    requests: int = 0
    unknown_history_items: int = 0


class Recommender:
    """A built model: scores items for a shopper's history and applies the store's rules."""

    def __init__(self, data: ModelData, info: ModelInfo, scoring: ScoringConfig) -> None:
        self.data = data
        self.info = info
        self.scoring = scoring
        self.counters = RecommenderCounters()
        self._index = {item: position for position, item in enumerate(data.item_ids)}
        self._popularity_order: dict[str | None, npt.NDArray[np.intp]] = {}

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every item the model knows, in model order."""
        return self.data.item_ids

    def knows(self, item_id: str) -> bool:
        """Whether ``item_id`` is in the model."""
        return item_id in self._index

    def with_scoring(self, scoring: ScoringConfig) -> Recommender:
        """The same model with other scoring weights (the arrays are shared)."""
        return Recommender(self.data, self.info, scoring)

    def rank(self, history: Sequence[HistoryEvent], k: int = 20, now: float | None = None) -> list[ScoredItem]:
        """The ``k`` best items for ``history`` by score alone: no stock, view or diversity rule.

        Items the history does not reach are filled in by chain-wide popularity (score 0).
        This is what the offline evaluation measures.
        """
        if k < 0:
            raise ValueError("k must be >= 0")
        _, scores = self._score(history, now)
        ranked: list[ScoredItem] = []
        if scores is not None:
            for item in self._ranked(scores.dense):
                if len(ranked) >= k:
                    break
                ranked.append(ScoredItem(self.data.item_ids[item], float(scores.dense[item])))
        if len(ranked) < k:
            seen = {self._index[scored.item_id] for scored in ranked}
            for item in self._popular(None):
                if len(ranked) >= k:
                    break
                if item not in seen:
                    ranked.append(ScoredItem(self.data.item_ids[item], 0.0))
        return ranked

    def suggest(
        self,
        history: Sequence[HistoryEvent],
        store: str,
        *,
        in_view: Collection[str] = (),
        k: int = 4,
        in_stock: Callable[[str], bool] | None = None,
        now: float | None = None,
        include_reminders: bool = True,
    ) -> Suggestions:
        """Up to ``k`` suggestions for a shopper at ``store``, with a reason each.

        Args:
            history: this visit's taps (``Channel.KIOSK``) and the shopper's synced views.
            store: the store the kiosk stands in.
            in_view: items on screen now; never suggested.
            k: how many suggestions at most.
            in_stock: the caller's live stock test; default: the stock in the model's catalog.
            now: the current time (Unix seconds) for recency; default: the latest history event.
            include_reminders: whether items from the history itself may come back.

        Returns:
            Suggestions best first; fewer than ``k`` when the rules leave fewer.

        Raises:
            UnknownStoreError: no ``in_stock`` given and the model has no stock for ``store``.
        """
        if k < 0:
            raise ValueError("k must be >= 0")
        stocked = self._stock_test(store, in_stock)
        hidden = {self._index[item] for item in in_view if item in self._index}
        weighted, scores = self._score(history, now)
        in_history = set(weighted.items.tolist())

        def eligible(item: int) -> bool:
            if item in hidden or (not include_reminders and item in in_history):
                return False
            return stocked(item)

        groups = self.data.groups

        def group_of(item: int) -> Hashable:
            group = int(groups[item])
            return group if group >= 0 else ("item", item)

        max_per_group = self.scoring.max_per_group
        picked: list[Suggestion] = []
        if scores is not None:
            chosen = pick_diverse(self._ranked(scores.dense), eligible, group_of, k, max_per_group)
            reasons = explain(chosen, scores, weighted, self.item_ids)
            picked = [
                Suggestion(self.data.item_ids[i], float(scores.dense[i]), reason)
                for i, reason in zip(chosen, reasons, strict=True)
            ]
        if len(picked) < k:
            store_figures = store in self.data.popularity_store_ids
            popularity = self._store_popularity(store)
            already = [self._index[s.item_id] for s in picked]
            reason = popularity_reason(store_figures)
            for item in pick_diverse(self._popular(store), eligible, group_of, k - len(picked), max_per_group, already):
                picked.append(Suggestion(self.data.item_ids[item], float(popularity[item]), reason))
        return Suggestions(tuple(picked), weighted.unknown)

    def _score(self, history: Sequence[HistoryEvent], now: float | None) -> tuple[WeightedHistory, Scores | None]:
        weighted = weigh_history(history, self._index, self.scoring, now)
        self.counters.requests += 1
        self.counters.unknown_history_items += weighted.unknown
        if not weighted.items.shape[0]:
            return weighted, None
        data = self.data
        return weighted, score_history(weighted, data.covisit, data.repeat, data.content, self.scoring)

    def _ranked(self, dense: npt.NDArray[np.float64]) -> Iterator[int]:
        """Items with a positive score, best first; ties: more popular, then lower index."""
        candidates = np.flatnonzero(dense > 0)
        if candidates.shape[0] > _FIRST_CUT:
            threshold = np.partition(dense[candidates], -_FIRST_CUT)[-_FIRST_CUT]
            head = candidates[dense[candidates] >= threshold]
            yield from self._sorted(head, dense)
            yield from self._sorted(candidates[dense[candidates] < threshold], dense)
        else:
            yield from self._sorted(candidates, dense)

    def _sorted(self, items: npt.NDArray[np.intp], dense: npt.NDArray[np.float64]) -> Iterator[int]:
        order = np.lexsort((items, -self.data.popularity[items], -dense[items]))
        yield from items[order].tolist()

    def _store_popularity(self, store: str | None) -> npt.NDArray[np.float32]:
        if store is not None and store in self.data.popularity_store_ids:
            return self.data.store_popularity[self.data.popularity_store_ids.index(store)]
        return self.data.popularity

    def _popular(self, store: str | None) -> Iterator[int]:
        """Items with any popularity at ``store`` (chain-wide when it has no figures), most popular first."""
        key = store if store in self.data.popularity_store_ids else None
        order = self._popularity_order.get(key)
        if order is None:
            popularity = self._store_popularity(key)
            items = np.flatnonzero(popularity > 0)
            order = items[np.lexsort((items, -popularity[items]))]
            self._popularity_order[key] = order
        for start in range(0, order.shape[0], _FIRST_CUT):
            yield from order[start : start + _FIRST_CUT].tolist()

    def _stock_test(self, store: str, in_stock: Callable[[str], bool] | None) -> Callable[[int], bool]:
        if in_stock is not None:
            item_ids = self.data.item_ids
            return lambda item: in_stock(item_ids[item])
        if store not in self.data.stock_store_ids:
            known = ", ".join(self.data.stock_store_ids) or "none"
            raise UnknownStoreError(f"the model has no stock for store {store!r} (stores: {known}); pass in_stock")
        row = self.data.in_stock[self.data.stock_store_ids.index(store)]
        return lambda item: bool(row[item])

