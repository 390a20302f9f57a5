"""What the kiosk knows of its store as HQ keeps it: each product's free units per size, and
the store's open requests for its staff. Plain Python, no I/O.

HQ's figures replace the catalog's: once a ``StockLevel`` for a product has come, the size
chips show its units free (stock less the units held for shoppers), not the bundle's, and
keep showing them over any later bundle until a newer level comes. A level is taken only
when its ``stamp`` is newer than the one in force (retained levels come again on every
reconnect; a late one must not undo a newer one). The store's open requests follow the
same rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiosk_protocol import OpenRequest, Product, StockLevel, StoreRequests


class LevelVerdict(enum.Enum):
    """What became of a stock level or a list of open requests HQ sent."""

    APPLIED = "applied"
    OUTDATED = "outdated"  # not newer than the one in force


@dataclass
class StoreCounters:
    """What came of HQ's store figures."""

    levels_applied: int = 0
    levels_outdated: int = 0
    requests_applied: int = 0
    requests_outdated: int = 0


class StoreState:
    """The newest stock level per product and the newest list of open requests of one store."""

    def __init__(self, store: str) -> None:
        self.store = store
        self.counters = StoreCounters()
        self._levels: dict[str, StockLevel] = {}
        self._requests: StoreRequests | None = None

    def take_level(self, level: StockLevel) -> LevelVerdict:
        """HQ's free units of one product here: in force if newer than the one it replaces."""
        held = self._levels.get(level.sku)
        if level.store != self.store or (held is not None and level.stamp <= held.stamp):
            self.counters.levels_outdated += 1
            return LevelVerdict.OUTDATED
        self._levels[level.sku] = level
        self.counters.levels_applied += 1
        return LevelVerdict.APPLIED

    def free_units(self, product: Product) -> dict[str, int]:
        """Units free per size of ``product`` here: HQ's level once one came, else the catalog's stock.

        The sizes keep the catalog's order; sizes only HQ knows come after it.
        """
        bundle = product.stock_in(self.store)
        level = self._levels.get(product.sku)
        if level is None:
            return dict(bundle)
        ordered = [size for size in bundle if size in level.available]
        ordered += sorted(size for size in level.available if size not in bundle)
        return {size: level.available[size] for size in ordered}

    def take_requests(self, requests: StoreRequests) -> LevelVerdict:
        """HQ's list of the store's open requests: in force if newer than the one it replaces."""
        held = self._requests
        if requests.store != self.store or (held is not None and requests.stamp <= held.stamp):
            self.counters.requests_outdated += 1
            return LevelVerdict.OUTDATED
        self._requests = requests
        self.counters.requests_applied += 1
        return LevelVerdict.APPLIED

    @property
    def open_requests(self) -> tuple[OpenRequest, ...]:
        """The store's open requests, oldest first (None come until HQ's first list)."""
        if self._requests is None:
            return ()
        return tuple(sorted(self._requests.requests, key=lambda request: request.created_at))
