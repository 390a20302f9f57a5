"""The bodies of HQ's order routes (``_orders_api``): an order as a channel sends it, and as
HQ answers with it (in the order routes, the profile and the export).

What a channel sends is checked here, at the edge: an order id of printable ASCII letters,
digits and ``-_.:`` (at most 64), a store id or ``online``, a channel name (``web``,
``till``... or ``kiosk:<kiosk>``), 1 to 200 lines, each a quantity of at least 1 and a
unit price of at least 0 with at most two decimal places, as a decimal string. A SKU or
size HQ's catalog does not know is no error: the line is stored and flagged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from hq._orders import Order, OrderLine
from kiosk_protocol import Sku

ORDER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
STORE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"  # a store's id, or ``online``: the contract's ids
# An API channel's name (the key file's), or a kiosk's channel as the change log names it.
CHANNEL_PATTERN = r"^(?:[a-z0-9][a-z0-9-]{0,63}|kiosk:[a-z0-9][a-z0-9-]{0,57})$"
# 1-32 characters, no control character (C0, DEL, C1), no space at either end.
SIZE_PATTERN = r"^[^\x00-\x20\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]{0,30}[^\x00-\x20\x7f-\x9f])?$"
CENTS = Decimal("0.01")  # prices as the database gives them back: 59.5 is 59.50
MAX_LINES = 200
MAX_QUANTITY = 10_000
PROFILE_ORDERS = 20  # the newest orders a profile shows; the export and the order list show all

OrderId = Annotated[str, Field(pattern=ORDER_ID_PATTERN, description="The channel's own id of the order.")]
# Money as a decimal string ("129.90"), as exact as the till's: a JSON number is a binary float.
MONEY_PATTERN = r"^[0-9]{1,10}(?:\.[0-9]{1,2})?$"
Money = Annotated[str, Field(pattern=MONEY_PATTERN, examples=["129.90"])]


def _a_number(value: object) -> object:
    """JSON Schema's integer: a number without a fraction (10000.0 is one), never text or true/false."""
    if isinstance(value, (bool, str)):
        raise ValueError("a quantity is a whole number, not text or true/false")
    return value


Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY), BeforeValidator(_a_number)]


class OrderLineIn(BaseModel):
    """One line of an order: so many units of one size of one product, at a unit price."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    size: str = Field(pattern=SIZE_PATTERN, description="The size as the catalog names it ('40', 'M'...).")
    quantity: Quantity
    unit_price: Money = Field(description="A decimal string: 0 or more, at most 10 digits before the point and "
                                          "2 after it.")


class OrderIn(BaseModel):
    """An order from any channel: the web shop, the app, a store's till."""

    model_config = ConfigDict(extra="forbid")

    order_id: OrderId
    channel: str = Field(pattern=CHANNEL_PATTERN, description="Where it was bought: 'web', 'app', 'till'... "
                                                              "or 'kiosk:<kiosk>'.")
    store: str = Field(pattern=STORE_PATTERN, description="The store's id, or 'online'.")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    at: AwareDatetime | None = Field(default=None, description="When it was bought, with its UTC offset; "
                                                               "now when not given.")

    def order(self, shopper: str | None, recorded_by: str, now: datetime, flags: list[str | None]) -> Order:
        """The order HQ stores: its time in UTC (a retry from another time zone is the same order), its
        prices in cents."""
        at = (self.at or now).astimezone(UTC)
        return Order(self.order_id, shopper, self.channel, self.store, at,
                     tuple(OrderLine(line.sku, line.size, line.quantity, Decimal(line.unit_price).quantize(CENTS), flag)
                           for line, flag in zip(self.lines, flags, strict=True)), recorded_by)


class OrderLineOut(BaseModel):
    """A stored line, with what HQ's catalog made of it."""

    sku: str
    size: str
    quantity: int
    unit_price: Decimal
    flag: str | None = Field(description="`unknown_sku` or `unknown_size` when HQ's catalog does not know the "
                                         "product or the size; null when it does (or HQ serves no catalog).")


class OrderOut(BaseModel):
    """An order as HQ holds it."""

    order_id: str
    shopper: str | None = Field(description="Null for an order without a known shopper.")
    channel: str
    store: str
    at: datetime
    lines: list[OrderLineOut]
    total: Decimal = Field(description="The sum of quantity times unit price over the lines.")
    recorded_by: str = Field(description="The API channel that sent it.")


def order_out(order: Order) -> OrderOut:
    """An order as the API answers with it."""
    return OrderOut(order_id=order.order_id, shopper=order.shopper, channel=order.channel, store=order.store,
                    at=order.at, total=order.total, recorded_by=order.recorded_by,
                    lines=[OrderLineOut(sku=line.sku, size=line.size, quantity=line.quantity,
                                        unit_price=line.unit_price, flag=line.flag) for line in order.lines])


def exported_order(order: Order) -> dict[str, Any]:
    """An order as JSON-ready data, for the export."""
    return order_out(order).model_dump(mode="json")
