"""Plain data the recommender takes and gives: items, history, suggestions and reasons."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ItemFeatures:
    """What the recommender knows about one catalog item.

    ``texts`` holds every human text of the item in every language (name, description,
    colour...); ``category`` is a path such as ``"footwear/boots"``; ``stock`` maps a store
    id to the units it holds. ``group`` names the items that count as "the same thing" for
    the diversity rule; empty means ``brand|category``.
    """

    item_id: str
    texts: tuple[str, ...] = ()
    category: str = ""
    brand: str = ""
    price: float | None = None
    attributes: tuple[str, ...] = ()
    stock: Mapping[str, int] = field(default_factory=dict, hash=False, compare=True)
    group: str = ""

    def __post_init__(self) -> None:
        if not self.item_id:
            raise ValueError("an item needs a non-empty item_id")

    @property
    def diversity_group(self) -> str:
        """The group this item shares with its near-duplicates (sizes, colours)."""
        return self.group or f"{self.brand}|{self.category}"


class Channel(enum.Enum):
    """Where a history event happened."""

    KIOSK = "kiosk"  # this visit, at this kiosk
    WEB = "web"
    APP = "app"
    STORE = "store"  # another store or an earlier visit


@dataclass(frozen=True)
class HistoryEvent:
    """One product the shopper looked at: which, when (Unix seconds), and where."""

    item_id: str
    time: float
    channel: Channel = Channel.KIOSK


class ReasonKind(enum.Enum):
    """Why an item is suggested; the UI turns each kind into a sentence in its language."""

    TAPPED_HERE = "tapped_here"  # "because you tapped {anchor}" (anchor == item: "you tapped this earlier")
    SEEN_ONLINE = "seen_online"  # "because you looked at {anchor} online" (anchor == item: "seen online")
    SEEN_IN_ANOTHER_STORE = "seen_in_another_store"  # the same, from another store's kiosk
    SIMILAR = "similar"  # "similar to {anchor}" (content side: text, category, brand, price)
    POPULAR_IN_STORE = "popular_in_store"  # "popular in this store"
    POPULAR = "popular"  # "popular right now" (chain-wide, when the store has no figures)


@dataclass(frozen=True)
class Reason:
    """A reason with its data: the history item behind it and that item's channel."""

    kind: ReasonKind
    anchor: str | None = None
    channel: Channel | None = None


@dataclass(frozen=True)
class Suggestion:
    """One suggested item, its score and why.

    The score is the history score for history-based reasons and the item's popularity share
    (1.0 for the best seller) for the popularity reasons; suggestions come best first either way.
    """

    item_id: str
    score: float
    reason: Reason


@dataclass(frozen=True)
class Suggestions:
    """The answer to one request: suggestions best first and what was ignored."""

    items: tuple[Suggestion, ...]
    unknown_history_items: int = 0

    @property
    def item_ids(self) -> tuple[str, ...]:
        """The suggested item ids, best first."""
        return tuple(s.item_id for s in self.items)


@dataclass(frozen=True)
class ScoredItem:
    """An item and its raw score from :meth:`Recommender.rank` (no business rules)."""

    item_id: str
    score: float
