"""The models the offline evaluation compares, behind one small interface.

* ``ours``: the kiosk's own model (:func:`build_model` + :meth:`Recommender.rank`).
* ``pop``: the most clicked training items, the same list for everyone.
* ``vsknn``: V-SKNN as Ludewig & Jannach describe it ("Evaluation of session-based
  recommendation algorithms", 2018; session-rec's ``VMContextKNN``).
* ``implicit_cosine``: ``implicit``'s item-item ``CosineRecommender`` over session × item
  click counts, the session prefix as the "user".
"""

from __future__ import annotations

import heapq
import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender._build import BuildConfig, build_model
from recommender._events import ClickLog
from recommender._model import Recommender
from recommender._types import HistoryEvent


class SessionModel(Protocol):
    """A next-click model: fit on a training log, then rank items for a session prefix."""

    def fit(self, train: ClickLog) -> None:
        """Learn from the training clicks."""
        ...

    def predict(self, items: Sequence[int], times: Sequence[float], k: int) -> list[int]:
        """Up to ``k`` item codes (into ``train.item_ids``) for a session prefix, best first."""
        ...

    def config(self) -> dict[str, Any]:
        """The settings, for the report."""
        ...


class OursModel:
    """The kiosk's model, asked through its public ``rank`` with the prefix as this visit's taps."""

    def __init__(self, config: BuildConfig | None = None) -> None:
        self.build_config = config or BuildConfig()
        self._model: Recommender | None = None
        self._item_ids: tuple[str, ...] = ()
        self._code: dict[str, int] = {}

    def fit(self, train: ClickLog) -> None:
        """Build the model from the training clicks (no catalog: the data has no content)."""
        self._model = build_model(None, train, self.build_config)
        self._item_ids = train.item_ids
        self._code = {item: code for code, item in enumerate(train.item_ids)}

    def predict(self, items: Sequence[int], times: Sequence[float], k: int) -> list[int]:
        """Rank through the public API, exactly as a kiosk would."""
        if self._model is None:
            raise RuntimeError("fit first")
        history = [HistoryEvent(self._item_ids[i], t) for i, t in zip(items, times, strict=True)]
        return [self._code[scored.item_id] for scored in self._model.rank(history, k)]

    def config(self) -> dict[str, Any]:
        """The build and scoring settings."""
        return self.build_config.to_json()


class PopularityModel:
    """The ``k`` most clicked training items."""

    def __init__(self) -> None:
        self._order: list[int] = []

    def fit(self, train: ClickLog) -> None:
        """Count clicks per item."""
        counts = np.bincount(train.items, minlength=len(train.item_ids))
        codes = np.arange(counts.shape[0])
        self._order = codes[np.lexsort((codes, -counts))].tolist()

    def predict(self, items: Sequence[int], times: Sequence[float], k: int) -> list[int]:
        """The same list for every prefix."""
        return self._order[:k]

    def config(self) -> dict[str, Any]:
        """No settings."""
        return {}


@dataclass(frozen=True)
class VSKNNConfig:
    """V-SKNN settings (defaults: the best of the grid in benchmarks/recommender_tune.py).

    ``weighting`` weighs the current session's items by position ``c`` of ``L`` (1-based):
    ``linear`` is ``c / L`` (the paper's linear decay; session-rec calls it ``div``),
    ``quadratic`` is ``(c / L) ** 2``, ``same`` is 1. ``score_decay`` weighs a neighbour's
    items by how far back the most recent shared item is: ``div`` is ``1 / step``.
    ``idf_weighting`` multiplies an item's score by ``1 + idf_weighting * idf(item)``.
    """

    k: int = 500
    sample_size: int = 1000
    sampling: Literal["recent", "random"] = "recent"
    similarity: Literal["vec", "cosine", "jaccard"] = "vec"
    weighting: Literal["linear", "quadratic", "same"] = "quadratic"
    score_decay: Literal["div", "same"] = "div"
    idf_weighting: float = 1.0
    seed: int = 0


class VSKNNModel:
    """V-SKNN: neighbours are past sessions sharing items with the current one.

    For a prefix: the candidate sessions are those containing any prefix item, cut to the
    ``sample_size`` most recent (by their last click); each gets the similarity to the
    prefix (``vec``: sum of the position weights of the shared items over the number of
    distinct prefix items); the ``k`` most similar are the neighbours; an item's score is
    the sum over neighbours containing it of similarity × score decay × idf factor.
    """

    def __init__(self, config: VSKNNConfig | None = None) -> None:
        self.settings = config or VSKNNConfig()
        self._sessions: list[frozenset[int]] = []
        self._sequences: list[tuple[int, ...]] = []
        self._recency: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._item_sessions: dict[int, list[int]] = {}
        self._idf: npt.NDArray[np.float64] = np.zeros(0)
        self._rng = np.random.default_rng(self.settings.seed)

    def fit(self, train: ClickLog) -> None:
        """Index the training sessions by item and by recency."""
        bounds = train.session_bounds()
        items = train.items.tolist()
        self._sequences = [tuple(items[a:b]) for a, b in itertools.pairwise(bounds.tolist())]
        self._sessions = [frozenset(seq) for seq in self._sequences]
        last_click = np.maximum.reduceat(train.times, bounds[:-1]) if len(train) else np.zeros(0)
        order = np.lexsort((np.arange(last_click.shape[0]), -last_click))
        self._recency = np.empty(order.shape[0], dtype=np.int64)
        self._recency[order] = np.arange(order.shape[0])  # 0 = most recent session
        item_sessions: dict[int, list[int]] = {}
        for session, members in enumerate(self._sessions):
            for item in members:
                item_sessions.setdefault(item, []).append(session)
        self._item_sessions = item_sessions
        n_sessions = max(len(self._sessions), 1)
        counts = np.zeros(len(train.item_ids))
        for item, sessions in item_sessions.items():
            counts[item] = len(sessions)
        self._idf = np.log(n_sessions / np.maximum(counts, 1.0))

    def predict(self, items: Sequence[int], times: Sequence[float], k: int) -> list[int]:
        """Score items from the ``k`` nearest sampled sessions."""
        cfg = self.settings
        length = len(items)
        position_weight = {item: self._position_weight(c, length) for c, item in enumerate(items, start=1)}
        current = set(items)
        candidates: set[int] = set()
        for item in current:
            candidates.update(self._item_sessions.get(item, ()))
        pool = self._sample(candidates)
        neighbours: list[tuple[float, int, int]] = []
        for session in pool:
            similarity = self._similarity(current, self._sessions[session], position_weight)
            if similarity > 0:
                neighbours.append((similarity, -int(self._recency[session]), session))
        best = heapq.nlargest(cfg.k, neighbours)
        scores: dict[int, float] = {}
        for similarity, _, session in best:
            members = self._sessions[session]
            step = 1
            for item in reversed(items):
                if item in members:
                    break
                step += 1
            decay = 1.0 / step if cfg.score_decay == "div" else 1.0
            for item in members:
                boost = 1.0 + cfg.idf_weighting * self._idf[item] if cfg.idf_weighting else 1.0
                scores[item] = scores.get(item, 0.0) + similarity * decay * boost
        ranked = heapq.nsmallest(k, scores.items(), key=lambda pair: (-pair[1], pair[0]))
        return [item for item, _ in ranked]

    def config(self) -> dict[str, Any]:
        """The V-SKNN settings."""
        return asdict(self.settings)

    def _position_weight(self, position: int, length: int) -> float:
        if self.settings.weighting == "linear":
            return position / length
        if self.settings.weighting == "quadratic":
            return (position / length) ** 2
        return 1.0

    def _sample(self, candidates: set[int]) -> list[int]:
        cfg = self.settings
        if not cfg.sample_size or len(candidates) <= cfg.sample_size:
            return list(candidates)
        if cfg.sampling == "random":
            ordered = sorted(candidates)
            picked = self._rng.choice(len(ordered), size=cfg.sample_size, replace=False)
            return [ordered[i] for i in picked]
        return heapq.nsmallest(cfg.sample_size, candidates, key=self._recency.__getitem__)

    def _similarity(self, current: set[int], neighbour: frozenset[int], weights: dict[int, float]) -> float:
        shared = current & neighbour
        if not shared:
            return 0.0
        if self.settings.similarity == "vec":
            return sum(weights[item] for item in shared) / len(weights)
        if self.settings.similarity == "cosine":
            return len(shared) / math.sqrt(len(current) * len(neighbour))
        return len(shared) / len(current | neighbour)


class ImplicitCosineModel:
    """``implicit.nearest_neighbours.CosineRecommender`` on session × item click counts.

    ``neighbours`` is implicit's ``K`` (default: the best of the grid in benchmarks/recommender_tune.py).
    """

    def __init__(self, neighbours: int = 500) -> None:
        self.neighbours = neighbours
        self._model: Any = None
        self._n_items = 0

    def fit(self, train: ClickLog) -> None:
        """Fit the item-item cosine model, one thread."""
        from implicit.nearest_neighbours import CosineRecommender

        bounds = train.session_bounds()
        session_of_click = np.repeat(np.arange(bounds.shape[0] - 1), np.diff(bounds))
        self._n_items = len(train.item_ids)
        counts = sparse.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (session_of_click, train.items)),
            shape=(bounds.shape[0] - 1, self._n_items),
        )
        self._model = CosineRecommender(K=self.neighbours, num_threads=1)
        with warnings.catch_warnings():
            # implicit converts internally and warns about its own COO matrix
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            self._model.fit(counts, show_progress=False)

    def predict(self, items: Sequence[int], times: Sequence[float], k: int) -> list[int]:
        """Recommend for the prefix's click counts, already-seen items allowed (re-clicks count)."""
        if self._model is None:
            raise RuntimeError("fit first")
        codes = np.asarray(items, dtype=np.int32)
        row = sparse.csr_matrix(
            (np.ones(codes.shape[0], dtype=np.float32), (np.zeros(codes.shape[0], dtype=np.int32), codes)),
            shape=(1, self._n_items),
        )
        ids, scores = self._model.recommend(0, row, N=k, filter_already_liked_items=False)
        return [int(i) for i, s in zip(ids, scores, strict=True) if s > 0]

    def config(self) -> dict[str, Any]:
        """The neighbourhood size."""
        return {"K": self.neighbours}


def default_models() -> dict[str, SessionModel]:
    """The four models of the report, with their tuned settings."""
    return {
        "ours": OursModel(),
        "pop": PopularityModel(),
        "vsknn": VSKNNModel(),
        "implicit_cosine": ImplicitCosineModel(),
    }
