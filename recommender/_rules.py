"""Business rules on top of the scores: what may be shown, how varied it is, and why it is there.

* An item is shown only if it is in stock at this store and not already in view.
* Diversity: at most ``max_per_group`` items of one group (by default brand + category),
  so five suggestions are never five sizes or colours of one boot. The rule is strict: a
  short list beats a list of near-duplicates, and the popularity backfill finds other groups.
* Every suggestion carries a :class:`Reason`: the history item whose contribution to its
  score is the largest, and through which side (co-visitation, content, repeat); items from
  the backfill are "popular in this store" (or chain-wide when the store has no figures).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable

import numpy as np

from recommender._session import Scores, Source, WeightedHistory
from recommender._types import Channel, Reason, ReasonKind

_KIND_FOR_CHANNEL = {
    Channel.KIOSK: ReasonKind.TAPPED_HERE,
    Channel.WEB: ReasonKind.SEEN_ONLINE,
    Channel.APP: ReasonKind.SEEN_ONLINE,
    Channel.STORE: ReasonKind.SEEN_IN_ANOTHER_STORE,
}


def pick_diverse(
    candidates: Iterable[int],
    eligible: Callable[[int], bool],
    group_of: Callable[[int], Hashable],
    k: int,
    max_per_group: int,
    already: Iterable[int] = (),
) -> list[int]:
    """The first ``k`` eligible candidates, at most ``max_per_group`` per group, in order.

    ``already`` are picks made before (their groups count; they are not picked again).
    """
    picked: list[int] = []
    chosen = set(already)
    per_group = Counter(group_of(item) for item in chosen)
    for item in candidates:
        if len(picked) >= k:
            break
        if item in chosen or not eligible(item):
            continue
        group = group_of(item)
        if per_group[group] >= max_per_group:
            continue
        picked.append(item)
        chosen.add(item)
        per_group[group] += 1
    return picked


def explain(items: list[int], scores: Scores, history: WeightedHistory, item_ids: tuple[str, ...]) -> list[Reason]:
    """The reason for each scored item: its largest contribution's history item and side."""
    relevant = np.flatnonzero(np.isin(scores.target, items))
    targets = scores.target[relevant]
    reasons = []
    for item in items:
        mine = relevant[targets == item]
        if not mine.shape[0]:
            raise ValueError(f"item {item_ids[item]} has no score contribution to explain")
        best = mine[np.argmax(scores.amount[mine])]
        owner = int(scores.owner[best])
        anchor = item_ids[int(history.items[owner])]
        channel = history.channels[owner]
        kind = ReasonKind.SIMILAR if scores.source[best] == Source.CONTENT else _KIND_FOR_CHANNEL[channel]
        reasons.append(Reason(kind, anchor, channel))
    return reasons


def popularity_reason(store_has_figures: bool) -> Reason:
    """The reason for a backfilled item."""
    return Reason(ReasonKind.POPULAR_IN_STORE if store_has_figures else ReasonKind.POPULAR)
