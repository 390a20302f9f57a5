"""Which body limit a path gets: the longest matching prefix, ``*`` standing for one segment."""

from __future__ import annotations

import pytest

from hq import ApiKeys, ProfileStore
from hq._guard import DEFAULT_BODY_LIMIT, HttpGuard
from hq._orders_api import ORDER_BODY_LIMIT, ORDER_BODY_LIMITS

LIMITS = {**ORDER_BODY_LIMITS, "/v1/imports": 1_000_000, "/v1/imports/small": 100}
CASES = [
    ("/v1/orders", ORDER_BODY_LIMIT),
    ("/v1/shoppers/shopper-0042/orders", ORDER_BODY_LIMIT),
    ("/v1/shoppers/shopper-0042/orders/web-1", ORDER_BODY_LIMIT),
    ("/v1/shoppers/shopper-0042/orders-of-old", DEFAULT_BODY_LIMIT),  # a segment is matched whole
    ("/v1/shoppers/orders", DEFAULT_BODY_LIMIT),  # no segment for the ``*``
    ("/v1/shoppers/shopper-0042/wishlist/BOOT", DEFAULT_BODY_LIMIT),
    ("/v1/imports/big", 1_000_000),
    ("/v1/imports/small", 100),  # the longest prefix wins
]


@pytest.mark.parametrize(("path", "limit"), CASES)
def test_a_path_gets_the_limit_of_its_longest_matching_prefix(path: str, limit: int) -> None:
    guard = HttpGuard(ApiKeys({"web": "web-key-0123456789abcdef"}), ProfileStore("sqlite://"), body_limits=LIMITS)
    assert guard.body_limit(path) == limit
