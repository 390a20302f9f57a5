"""Bodies of HQ's stock and reservation routes (``_holds_api``); they join its OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from hq._reservations import HOLD_MINUTES, Reservation, ReservationKind
from hq._stock import SizeStock
from kiosk_protocol import SHOPPER_PATTERN, Sku

STORE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"  # a store id, as the catalog's
RESERVATION_PATTERN = r"^[0-9a-f]{32}$"
MAX_FEED_VERSION = 2**53 - 1
MAX_FEED_SKUS = 2000  # a feed larger than the body limit goes in several PUTs, each a newer version
MAX_SIZES = 50
MAX_UNITS = 1_000_000



def _number_not_text(value: object) -> object:
    """A count is a JSON number (7, or 7.0): never text ("7") or a boolean (true), which pydantic's lax ints take."""
    if isinstance(value, (str, bool, bytes)):
        raise ValueError("must be a whole number, not text or a boolean")
    return value


NotText = BeforeValidator(_number_not_text)
Size = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\x7f]+$")]
Units = Annotated[int, Field(ge=0, le=MAX_UNITS), NotText]
FittingRoomMinutes = Annotated[int, Field(ge=1, le=HOLD_MINUTES[ReservationKind.FITTING_ROOM][1]), NotText]
CollectMinutes = Annotated[int, Field(ge=1, le=HOLD_MINUTES[ReservationKind.COLLECT][1]), NotText]
Note = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StockFeedIn(_In):
    """A store's stock, absolute units for the SKU/sizes listed (the others keep theirs)."""

    # At most 2**53 - 1: every JSON reader holds it exactly (near 2**62 a float reads as past the bound).
    version: Annotated[int, Field(ge=1, le=MAX_FEED_VERSION), NotText] = Field(
        description="Grows with each feed of the store's.")
    # additionalProperties: the document says what its key patterns already refuse.
    stock: dict[Sku, Annotated[dict[Size, Units], Field(min_length=1, max_length=MAX_SIZES,
                                                        json_schema_extra={"additionalProperties": False})]] = Field(
        max_length=MAX_FEED_SKUS, json_schema_extra={"additionalProperties": False},
        description='SKU -> size -> units: `{"BOOT-CHELSEA-BLK": {"40": 1}}`.')


class StockFeedOut(BaseModel):
    """What a feed did."""

    store: str
    version: int
    applied: bool = Field(description="False for a repeat of the version in force (nothing changed).")


class SizeStockOut(BaseModel):
    """One size of one SKU in the store."""

    sku: str
    size: str
    units: int = Field(description="On hand, held ones included.")
    held: int = Field(description="Held by open reservations.")
    available: int = Field(description="Free to hold.")


class StockOut(BaseModel):
    """A store's stock, by SKU then size."""

    store: str
    version: int | None = Field(description="The store's feed in force; null while its stock is the catalog's.")
    stock: list[SizeStockOut]


def _minutes(kind: ReservationKind) -> Any:
    default, longest = HOLD_MINUTES[kind]
    return Field(default=None, description=f"How long to hold it: {default} minutes unless given, at most {longest}.")


class _HoldIn(_In):
    sku: Sku
    size: Size
    shopper: Annotated[str, Field(pattern=SHOPPER_PATTERN)] | None = Field(
        default=None, description="The shopper it is for, when known: it then shows in their profile.")


class FittingRoomIn(_HoldIn):
    """Hold one unit for the fitting room."""

    kind: Literal["fitting_room"]
    hold_minutes: FittingRoomMinutes | None = _minutes(ReservationKind.FITTING_ROOM)


class CollectIn(_HoldIn):
    """Hold one unit to collect in store."""

    kind: Literal["collect"]
    hold_minutes: CollectMinutes | None = _minutes(ReservationKind.COLLECT)


# Which hold, by its kind: each kind's bound on hold_minutes is in the document.
ReservationIn = Annotated[FittingRoomIn | CollectIn, Field(discriminator="kind")]


class StateIn(_In):
    """Staff move a reservation on."""

    state: Literal["taken", "ready"]
    note: Note | None = Field(default=None, description='Where it is: "fitting room 2".')


class CollectedIn(_In):
    """What the shopper paid for the unit (the catalog's price in the store when not given)."""

    unit_price: Annotated[str, Field(pattern=r"^[0-9]{1,10}(\.[0-9]{1,2})?$")] | None = Field(
        default=None, description='A decimal in a string, at most 2 places: "59.90".')

    def price(self) -> Decimal | None:
        return None if self.unit_price is None else Decimal(self.unit_price).quantize(Decimal("0.01"))


class ReservationOut(BaseModel):
    """A reservation."""

    id: str
    store: str
    sku: str
    size: str
    shopper: str | None
    kind: ReservationKind
    state: str = Field(description="held, taken, ready, collected, cancelled or expired.",
                       json_schema_extra={"enum": ["held", "taken", "ready", "collected", "cancelled", "expired"]})
    note: str | None
    channel: str = Field(description="Who made it.")
    created_at: datetime
    expires_at: datetime


class ReservationsOut(BaseModel):
    """A store's open requests, oldest first."""

    store: str
    reservations: list[ReservationOut]


class CollectedOut(BaseModel):
    """A reservation handed over, and the order it became."""

    reservation: ReservationOut
    order_id: str
    total: Decimal


class ExportedReservation(BaseModel):
    """One reservation, as exported."""

    reservation: str
    store: str
    sku: str
    size: str
    kind: str
    state: str
    channel: str
    created_at: datetime
    expires_at: datetime


def reservation_out(r: Reservation) -> ReservationOut:
    """A reservation as the API (and the profile) answers with it."""
    return ReservationOut(id=r.reservation_id, store=r.store, sku=r.sku, size=r.size, shopper=r.shopper, kind=r.kind,
                          state=r.state.value, note=r.note, channel=r.channel, created_at=r.created_at,
                          expires_at=r.expires_at)


def stock_out(store: str, version: int | None, rows: list[SizeStock]) -> StockOut:
    return StockOut(store=store, version=version, stock=[
        SizeStockOut(sku=r.sku, size=r.size, units=r.units, held=r.held, available=r.available) for r in rows])
