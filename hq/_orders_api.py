"""Orders over HTTP: every channel (the web shop, the app, a store's till) records what a
shopper bought, once, and reads it back.

- ``POST /v1/shoppers/{shopper}/orders`` records an order of a known shopper, ``POST
  /v1/orders`` one without a known shopper. 201 with the stored order; a retry with the
  same content answers 200 with what is stored (nothing changes); the same ``order_id``
  with other content is ``409 order_conflict``. The database decides, so channels sending
  one order at once store it once (``_orders``).
- A line whose SKU or size HQ's catalog (``kiosk hq serve --catalog``) does not know is
  stored all the same and flagged (``unknown_sku``, ``unknown_size``), and counted
  (``Orders.flagged_lines``); without a catalog no line is checked.
- ``GET /v1/shoppers/{shopper}/orders`` lists a shopper's orders, newest first.

An order's body may be up to ``ORDER_BODY_LIMIT`` bytes (200 lines fit). An erased
shopper's orders are refused (``410 erased``); a store's key records orders of its own
store only (``403 other_store``). Every refusal of these routes is counted by its code
(``OrderStats``), bodies that do not fit (``422 invalid_request``) too.
"""

from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

from hq._api_models import SHOPPER_PATTERN, ApiError, error_responses
from hq._guard import acting_in, channel_dependency
from hq._order_models import OrderIn, OrderOut, order_out
from hq._orders import OrderConflict, line_flags
from hq._phone_views import CatalogFile
from hq._store import ProfileStore, shopper_key
from hq.exceptions import ApiRefusal

Shopper = Annotated[str, PathParam(pattern=SHOPPER_PATTERN, description="The shopper's id (as on their card).")]
MAX_LISTED = 1000
# An order of 200 lines, each of the longest SKU and size, is some 26 KB: more than other bodies.
ORDER_BODY_LIMIT = 64 * 1024
ORDER_BODY_LIMITS = {"/v1/orders": ORDER_BODY_LIMIT, "/v1/shoppers/*/orders": ORDER_BODY_LIMIT}


@dataclass
class OrderStats:
    """What the order routes did: orders stored, retries answered, refusals by code."""

    placed: int = 0
    retries: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        refused = ", ".join(f"{code} {count}" for code, count in sorted(self.refused.items())) or "none"
        return f"{self.placed} placed, {self.retries} retries, refused: {refused}"


class OrdersOut(BaseModel):
    """A shopper's orders, newest first."""

    shopper: str
    orders: list[OrderOut]


def orders_router(store: ProfileStore, api_key: APIKeyHeader, stats: OrderStats, catalog: CatalogFile | None = None,
                  clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> APIRouter:
    """The order routes; lines are checked against ``catalog`` when given."""
    router = APIRouter(tags=["orders"], route_class=_counting(stats))
    errors = error_responses(e401="Missing or unknown API key", e503="The profile database is out of reach; retry")

    Channel = Annotated[str, Depends(channel_dependency(api_key))]

    def refused(error: str, text: str) -> dict[str, Any]:
        return {"model": ApiError, "description": f"`{error}`: {text}"}

    placing = {**errors, 200: {"model": OrderOut, "description": "Already stored with this content (a retry)"},
               403: refused("other_store", "a store's key, and the order is of another store"),
               409: refused("order_conflict", "the order id is stored with other content")}

    def not_erased(shopper: str) -> None:
        if store.is_erased(shopper):
            raise ApiRefusal(410, "erased", "this shopper's profile was erased; HQ keeps nothing more about them")

    def place(request: Request, body: OrderIn, shopper: str | None, response: Response) -> OrderOut:
        channel = acting_in(request, body.store)
        flags = line_flags(catalog.current() if catalog else None, [(line.sku, line.size) for line in body.lines])
        order = body.order(shopper, channel, clock(), flags)
        try:
            stored, new = store.orders.place(order)
        except OrderConflict as exc:
            raise ApiRefusal(409, "order_conflict", f"order {body.order_id} is already stored with other content: "
                             "give a new order its own id") from exc
        if new:
            stats.placed += 1
        else:
            stats.retries += 1
            response.status_code = 200
        return order_out(stored)

    @router.post("/v1/shoppers/{shopper}/orders", status_code=201, responses={
        **placing, 410: refused("erased", "the shopper's profile was erased")})
    def place_shopper_order(shopper: Shopper, body: OrderIn, channel: Channel, request: Request,
                            response: Response) -> OrderOut:
        """Record a shopper's order, from any channel; a retry with the same content changes nothing."""
        not_erased(shopper)
        return place(request, body, shopper, response)

    @router.post("/v1/orders", status_code=201, responses=placing)
    def place_order(body: OrderIn, channel: Channel, request: Request, response: Response) -> OrderOut:
        """Record an order without a known shopper (a till's sale to a guest)."""
        return place(request, body, None, response)

    @router.get("/v1/shoppers/{shopper}/orders", responses={
        **errors, 404: refused("unknown_shopper", "HQ holds no profile and no order of them"),
        410: refused("erased", "the shopper's profile was erased")})
    def list_orders(shopper: Shopper, channel: Channel,
                    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 100) -> OrdersOut:
        """A shopper's orders from every channel, newest first."""
        not_erased(shopper)
        found = store.orders.of(shopper_key(shopper), limit=limit)
        if not found and not store.has_profile(shopper):
            raise ApiRefusal(404, "unknown_shopper", f"HQ holds no profile and no order of {shopper!r}")
        return OrdersOut(shopper=shopper, orders=[order_out(order) for order in found])

    return router


def _counting(stats: OrderStats) -> type[APIRoute]:
    """A route class that counts each refusal of its routes by code, before the app's handlers answer it."""

    class CountingRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def counted(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError:
                    stats.refused["invalid_request"] += 1
                    raise
                except ApiRefusal as exc:
                    stats.refused[exc.error] += 1
                    raise

            return counted

    return CountingRoute
