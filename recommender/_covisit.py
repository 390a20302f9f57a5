"""The behaviour side: item → item co-visitation from click sessions of every channel.

Within a session, a click at position ``p`` and one at ``q`` (``0 < |q - p| <= window``) add
``1 / |q - p| ** distance_exponent`` to the pair (``p``'s item → ``q``'s item), multiplied by
``backward_weight`` when ``q`` comes before ``p`` (what people look at *next* matters most)
and by the session's age decay. Rows are normalised by their total, so a weight reads as
"share of this item's neighbourhood". A pair of one item with itself (a re-click) is kept
apart as the item's *repeat* weight: some products are looked at again and again, and the
scorer uses that to bring them back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender._table import NeighbourTable

_DAY_S = 86_400.0


@dataclass(frozen=True)
class CovisitConfig:
    """How co-visitation is counted (defaults tuned on YOOCHOOSE, see benchmarks/recommender_tune.py)."""

    window: int = 5
    backward_weight: float = 0.5
    distance_exponent: float = 2.0
    session_half_life_days: float | None = 2.0
    max_neighbours: int = 50
    max_session_length: int = 200

    def __post_init__(self) -> None:
        if self.window < 1 or self.max_neighbours < 1 or self.max_session_length < 2:
            raise ValueError("window, max_neighbours must be >= 1 and max_session_length >= 2")
        if self.backward_weight < 0 or self.distance_exponent < 0:
            raise ValueError("backward_weight and distance_exponent must be >= 0")
        if self.session_half_life_days is not None and self.session_half_life_days <= 0:
            raise ValueError("session_half_life_days must be positive")


@dataclass(frozen=True, eq=False)
class Covisitation:
    """Neighbour table (no self pairs) and per-item repeat weight, both row-normalised."""

    table: NeighbourTable
    repeat: npt.NDArray[np.float32]


def session_decay(
    sessions: npt.NDArray[np.int64], times: npt.NDArray[np.float64], half_life_days: float | None
) -> npt.NDArray[np.float64]:
    """Per click, 0.5 ** (age of its session's last click / half-life), age measured from the newest click."""
    if half_life_days is None or not sessions.shape[0]:
        return np.ones(sessions.shape[0], dtype=np.float64)
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(sessions)) + 1, [sessions.shape[0]]))
    ends = np.maximum.reduceat(times, bounds[:-1])
    per_click_end = np.repeat(ends, np.diff(bounds))
    age_days = (times.max() - per_click_end) / _DAY_S
    return np.power(0.5, age_days / half_life_days)


def build_covisitation(
    items: npt.NDArray[np.int32],
    sessions: npt.NDArray[np.int64],
    times: npt.NDArray[np.float64],
    n_items: int,
    config: CovisitConfig,
) -> Covisitation:
    """Count co-visitation over clicks sorted by session then time (``items`` are model indices)."""
    if not items.shape[0]:
        return Covisitation(NeighbourTable.empty(n_items), np.zeros(n_items, dtype=np.float32))
    keep = _last_clicks_of_long_sessions(sessions, config.max_session_length)
    items, sessions, times = items[keep], sessions[keep], times[keep]
    decay = session_decay(sessions, times, config.session_half_life_days)
    rows: list[npt.NDArray[np.int32]] = []
    cols: list[npt.NDArray[np.int32]] = []
    weights: list[npt.NDArray[np.float64]] = []
    for distance in range(1, config.window + 1):
        same = sessions[:-distance] == sessions[distance:]
        if not same.any():
            break
        earlier, later = items[:-distance][same], items[distance:][same]
        weight = decay[distance:][same] / distance**config.distance_exponent
        rows += [earlier, later]
        cols += [later, earlier]
        weights += [weight, weight * config.backward_weight]
    if not rows:
        return Covisitation(NeighbourTable.empty(n_items), np.zeros(n_items, dtype=np.float32))
    counts = sparse.coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
    ).tocsr()
    row_totals = np.asarray(counts.sum(axis=1)).ravel()
    scale = np.divide(1.0, row_totals, out=np.zeros_like(row_totals), where=row_totals > 0)
    coo = counts.tocoo()
    shares = coo.data * scale[coo.row]
    self_pair = coo.row == coo.col
    repeat = np.zeros(n_items, dtype=np.float32)
    repeat[coo.row[self_pair]] = shares[self_pair]
    others = ~self_pair
    table = NeighbourTable.from_pairs(
        n_items, coo.row[others], coo.col[others], shares[others], keep=config.max_neighbours
    )
    return Covisitation(table, repeat)


def item_popularity(
    items: npt.NDArray[np.int32], decay: npt.NDArray[np.float64], n_items: int
) -> npt.NDArray[np.float32]:
    """Decayed click counts per item, scaled so the most popular item has 1.0."""
    counts = np.bincount(items, weights=decay, minlength=n_items)
    top = counts.max() if counts.shape[0] else 0.0
    return (counts / top if top > 0 else counts).astype(np.float32)


def _last_clicks_of_long_sessions(sessions: npt.NDArray[np.int64], limit: int) -> npt.NDArray[np.bool_]:
    # A bot or a very long browse would dominate the counts: keep each session's last `limit` clicks.
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(sessions)) + 1, [sessions.shape[0]]))
    lengths = np.diff(bounds)
    position_from_end = np.repeat(bounds[1:], lengths) - np.arange(sessions.shape[0])
    return np.asarray(position_from_end <= limit)
