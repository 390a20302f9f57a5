"""Session-aware scoring: weight the shopper's history, then spread it over item neighbours.

The history (this visit's taps plus the shopper's synced views from other channels) is put
in time order. The item at position ``c`` of ``L`` gets the *position weight*
``exp(-(L - c) / position_decay)`` (the last tap weighs 1, each step back divides by
``e ** (1 / position_decay)``: STAN's sequence weight), times the *recency weight*
``0.5 ** (age / recency_half_life_s)`` (age from ``now``), times ``synced_weight`` when it
was seen on another channel. An item seen twice keeps its heaviest occurrence.

A candidate's score is the sum over history items ``h`` of ``weight(h)`` times:
its co-visitation share from ``h``; ``content_weight`` times its content similarity to ``h``
(``cold_content_weight`` when ``h`` has no co-visitation at all: a new item); and, for
``h`` itself, its learned repeat share plus ``remind_weight`` (people come back to what
they looked at).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recommender._table import NeighbourTable
from recommender._types import Channel, HistoryEvent


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the session-aware scorer and of the diversity rule (tuned defaults)."""

    position_decay: float = 1.0
    recency_half_life_s: float | None = 7 * 86_400.0
    synced_weight: float = 0.5
    remind_weight: float = 1.0
    content_weight: float = 0.05
    cold_content_weight: float = 1.0
    max_per_group: int = 1

    def __post_init__(self) -> None:
        if self.position_decay <= 0:
            raise ValueError("position_decay must be positive")
        if self.recency_half_life_s is not None and self.recency_half_life_s <= 0:
            raise ValueError("recency_half_life_s must be positive")
        weights = (self.synced_weight, self.remind_weight, self.content_weight, self.cold_content_weight)
        if min(weights) < 0:
            raise ValueError("scoring weights must be >= 0")
        if self.max_per_group < 1:
            raise ValueError("max_per_group must be >= 1")


@dataclass(frozen=True, eq=False)
class WeightedHistory:
    """Known history items (model indices), their weights and the channel of the heaviest view."""

    items: npt.NDArray[np.intp]
    weights: npt.NDArray[np.float64]
    channels: tuple[Channel, ...]
    unknown: int


def weigh_history(
    history: Sequence[HistoryEvent], index: Mapping[str, int], config: ScoringConfig, now: float | None = None
) -> WeightedHistory:
    """Weights of the known items of ``history``; unknown items are left out and counted."""
    known = [event for event in history if event.item_id in index]
    unknown = len(history) - len(known)
    known.sort(key=lambda event: event.time)  # stable: same-time events keep their order
    if now is None:
        now = known[-1].time if known else 0.0
    half_life = config.recency_half_life_s
    best: dict[int, tuple[float, Channel]] = {}
    length = len(known)
    for position, event in enumerate(known, start=1):
        weight = math.exp((position - length) / config.position_decay)
        if half_life is not None:
            weight *= 0.5 ** (max(now - event.time, 0.0) / half_life)
        if event.channel is not Channel.KIOSK:
            weight *= config.synced_weight
        item = index[event.item_id]
        if item not in best or weight >= best[item][0]:  # the heaviest view counts, the latest among equals
            best[item] = (weight, event.channel)
    items = np.fromiter(best, dtype=np.intp, count=len(best))
    weights = np.fromiter((w for w, _ in best.values()), dtype=np.float64, count=len(best))
    return WeightedHistory(items, weights, tuple(c for _, c in best.values()), unknown)


class Source(enum.IntEnum):
    """Which side of the model a score contribution comes from."""

    COVISIT = 0
    CONTENT = 1
    REPEAT = 2


@dataclass(frozen=True, eq=False)
class Scores:
    """Dense scores over all items plus every contribution, for explanations.

    Contribution ``i`` adds ``amount[i]`` to item ``target[i]`` from history entry
    ``owner[i]`` (a position in :class:`WeightedHistory`) through ``source[i]``.
    """

    dense: npt.NDArray[np.float64]
    owner: npt.NDArray[np.intp]
    target: npt.NDArray[np.intp]
    amount: npt.NDArray[np.float64]
    source: npt.NDArray[np.int8]


def score_history(
    history: WeightedHistory,
    covisit: NeighbourTable,
    repeat: npt.NDArray[np.float32],
    content: NeighbourTable,
    config: ScoringConfig,
) -> Scores:
    """Score every item for ``history`` (see the module docstring for the formula)."""
    n_items = covisit.n_rows
    h_items, h_weights = history.items, history.weights
    co_owner, co_target, co_share = covisit.gather(h_items)
    has_covisit = (covisit.indptr[h_items + 1] - covisit.indptr[h_items]) > 0
    content_factor = np.where(has_covisit, config.content_weight, config.cold_content_weight) * h_weights
    ct_owner, ct_target, ct_sim = content.gather(h_items)
    positions = np.arange(h_items.shape[0])
    owner = np.concatenate((co_owner, ct_owner, positions))
    target = np.concatenate((co_target, ct_target, h_items)).astype(np.intp)
    amount = np.concatenate(
        (
            h_weights[co_owner] * co_share,
            content_factor[ct_owner] * ct_sim,
            h_weights * (repeat[h_items] + config.remind_weight),
        )
    )
    source = np.concatenate(
        (
            np.full(co_owner.shape[0], Source.COVISIT, dtype=np.int8),
            np.full(ct_owner.shape[0], Source.CONTENT, dtype=np.int8),
            np.full(positions.shape[0], Source.REPEAT, dtype=np.int8),
        )
    )
    dense = np.bincount(target, weights=amount, minlength=n_items).astype(np.float64, copy=False)
    return Scores(dense, owner, target, amount, source)
