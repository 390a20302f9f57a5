"""A store's stock and reservations over HTTP, under ``/v1/stores/{store}``.

- ``PUT .../stock`` applies the store's feed of absolute units (``_stock``): 200 when
  applied or a repeat of the version in force; 409 ``version_conflict`` for that version
  with other figures, 409 ``stale_version`` for an older one. ``GET .../stock[?sku=]``
  answers units, held and available per size.
- ``POST .../reservations`` holds one unit (201), 409 ``out_of_stock`` when none is free,
  404 ``unknown_product`` when the store has no such SKU/size; ``GET .../reservations``
  lists the open requests, oldest first; ``GET``/``DELETE .../reservations/{id}`` read or
  cancel one; ``POST .../{id}/state`` is staff's (``taken``, ``ready``); ``POST
  .../{id}/collected`` hands it over and makes it an order (``_reservations``).

Every route acts in the store of its path: a store key of another store gets 403
``other_store`` (``acting_in``). A reservation id that does not fit the ids' pattern is
a 404 like an unknown one.
"""


import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader

from hq._api_models import ApiError, error_responses
from hq._guard import acting_in
from hq._holds_models import (
    RESERVATION_PATTERN,
    STORE_PATTERN,
    CollectedIn,
    CollectedOut,
    ReservationIn,
    ReservationOut,
    ReservationsOut,
    StateIn,
    StockFeedIn,
    StockFeedOut,
    StockOut,
    reservation_out,
    stock_out,
)
from hq._reservations import ReservationKind, ReservationRefused, ReservationState
from hq._stock import FeedRefused
from hq._store import ProfileStore
from hq.exceptions import ApiRefusal
from kiosk_protocol import Sku

StorePath = Annotated[str, PathParam(pattern=STORE_PATTERN, description="The store's id (as in the catalog).")]
ReservationPath = Annotated[str, PathParam(description="The reservation's id.")]


def holds_router(profiles: ProfileStore, api_key: APIKeyHeader) -> APIRouter:
    """The stock and reservation routes under ``/v1/stores/{store}``."""
    router = APIRouter(prefix="/v1/stores/{store}", tags=["stock and reservations"])
    errors = error_responses(e401="Missing or unknown API key", e403="`other_store`: a store key of another store",
                             e503="The profile database is out of reach; retry")

    async def channel_in(request: Request, store: StorePath, key: Annotated[str | None, Security(api_key)]) -> str:
        return acting_in(request, store)  # the key itself was checked by RequestGuard before the body was read

    Channel = Annotated[str, Depends(channel_in)]

    def refused(error: str, text: str) -> dict[str, Any]:
        return {"model": ApiError, "description": f"`{error}`: {text}"}

    def answer(exc: ReservationRefused | FeedRefused, status: int = 409) -> ApiRefusal:
        return ApiRefusal(getattr(exc, "status", status), exc.error, exc.detail)

    def well_formed(reservation: str) -> str:
        if not re.fullmatch(RESERVATION_PATTERN, reservation):
            profiles.reservations.refused["unknown_reservation"] += 1
            raise ApiRefusal(404, "unknown_reservation", "not a reservation id: 32 lowercase hexadecimal digits")
        return reservation

    unknown = refused("unknown_reservation", "no such reservation in this store, or not a reservation id")

    @router.put("/stock", responses={**errors, 409: refused(
        "stale_version", "older than the feed in force (or `version_conflict`: that version with other figures)")})
    def put_stock(store: StorePath, feed: StockFeedIn,
                  channel: Channel) -> StockFeedOut:
        """Apply the store's stock feed: absolute units for the SKU/sizes listed; once per version."""
        try:
            done = profiles.stock.apply_feed(store, feed.version, feed.stock, channel)
        except FeedRefused as exc:
            raise answer(exc) from exc
        return StockFeedOut(store=done.store, version=done.version, applied=done.applied)

    @router.get("/stock", responses={**errors, 404: refused("unknown_store", "HQ holds no stock of this store")})
    def get_stock(store: StorePath, channel: Channel,
                  sku: Annotated[Sku | None, Query(description="Only this SKU's sizes.")] = None) -> StockOut:
        """The store's units, held and available per SKU and size."""
        rows = profiles.stock.of(store, sku)
        version = profiles.stock.version_of(store)
        if not rows and version is None and not profiles.stock.of(store):
            raise ApiRefusal(404, "unknown_store", f"HQ holds no stock of {store!r}")
        return stock_out(store, version, rows)

    @router.post("/reservations", status_code=201, responses={
        **errors, 404: refused("unknown_product", "the store has no such SKU in that size"),
        409: refused("out_of_stock", "every unit is held or sold"),
        410: refused("erased", "the shopper's profile was erased"),
        422: refused("invalid_request", "the body does not fit: hold_minutes past its kind's bound, say")})
    def hold(store: StorePath, body: ReservationIn,
             channel: Channel) -> ReservationOut:
        """Hold one unit for a shopper: never a unit another holds, whoever asks at the same instant."""
        try:
            made = profiles.reservations.hold(store, body.sku, body.size, body.shopper, ReservationKind(body.kind),
                                              body.hold_minutes, channel)
        except ReservationRefused as exc:
            raise answer(exc) from exc
        return reservation_out(made)

    @router.get("/reservations", responses=errors)
    def open_requests(store: StorePath, channel: Channel,
                      state: Annotated[Literal["open"], Query(description="Open requests: held, taken, ready.")]
                      = "open") -> ReservationsOut:
        """The store's open requests, oldest first: what staff have to do."""
        return ReservationsOut(store=store, reservations=[reservation_out(r)
                                                             for r in profiles.reservations.open_in(store)])

    @router.get("/reservations/{reservation}", responses={**errors, 404: unknown})
    def read_reservation(store: StorePath,
                         reservation: ReservationPath, channel: Channel) -> ReservationOut:
        """One reservation of the store's."""
        found = profiles.reservations.get(store, well_formed(reservation))
        if found is None:
            profiles.reservations.refused["unknown_reservation"] += 1
            raise ApiRefusal(404, "unknown_reservation", "no such reservation in this store")
        return reservation_out(found)

    @router.delete("/reservations/{reservation}", responses={
        **errors, 404: unknown, 409: refused("reservation_closed", "it was collected or has expired")})
    def cancel(store: StorePath,
               reservation: ReservationPath, channel: Channel) -> ReservationOut:
        """Cancel a reservation and free its unit (a cancelled one answers as it is)."""
        try:
            return reservation_out(profiles.reservations.cancel(store, well_formed(reservation), channel))
        except ReservationRefused as exc:
            raise answer(exc) from exc

    @router.post("/reservations/{reservation}/state", responses={**errors, 404: unknown, 409: refused(
        "invalid_transition", "not a move forward (or `reservation_closed`, `reservation_expired`)")})
    def move(store: StorePath, reservation: ReservationPath,
             body: StateIn, channel: Channel) -> ReservationOut:
        """Staff: taken (on it), ready (in the fitting room, at the counter)."""
        try:
            return reservation_out(profiles.reservations.move(store, well_formed(reservation),
                                                           ReservationState(body.state), body.note, channel))
        except ReservationRefused as exc:
            raise answer(exc) from exc

    @router.post("/reservations/{reservation}/collected", responses={**errors, 404: unknown, 409: refused(
        "reservation_closed", "cancelled or expired (or `reservation_expired`, `price_unknown`: give unit_price)")})
    def collected(store: StorePath,
                  reservation: ReservationPath, channel: Channel,
                  body: CollectedIn | None = None) -> CollectedOut:
        """Hand the unit over: the reservation becomes an order and the unit leaves stock (a retry answers the same)."""
        try:
            done, order = profiles.reservations.collect(store, well_formed(reservation), channel,
                                                     body.price() if body else None)
        except ReservationRefused as exc:
            raise answer(exc) from exc
        return CollectedOut(reservation=reservation_out(done), order_id=order.order_id, total=order.total)

    return router
