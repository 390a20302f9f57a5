"""HQ's HTTP API: the shopper profile for the web shop, the app and every other channel,
the feed of every change to any profile (``_feed_api``), the shopper's coupons
(``_coupons_api``), orders from every channel (``_orders_api``), and, given a FleetView,
the fleet dashboard.

Every change posted here becomes a TapEvent stored through ``ProfileStore.record_many``,
exactly like a kiosk's, so idempotency (by event id) and the merge rules (wishlist,
preferences and consent by hybrid logical clock) are the same for every channel. Such
events come from store ``online`` with the calling channel as kiosk id (``online/web``,
``online/app``); their sequence is taken from their HLC, and profile changes carry an
HLC from this API's clock (node ``hq-api``) stamped after the shopper's newest change,
so a change made after reading the profile is ordered after what was read. One
shopper's stamps never move the clock for another.

A channel calls with its key in ``X-Api-Key``; the key names the channel. The key is
checked, and the body's size bounded, before a route reads the body (``_guard``).
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hq._analytics_api import AnalyticsStats, CatalogFacts, analytics_router
from hq._analytics_page import analytics_stores_router
from hq._analytics_queries import AnalyticsQueries
from hq._api_models import (
    SHOPPER_PATTERN,
    AnonymousViewIn,
    ApiError,
    ConsentIn,
    ConsentOut,
    DisplayNameIn,
    DisplayNameOut,
    EraseOut,
    EventOut,
    ExportOut,
    HealthOut,
    HistoryEntry,
    PreferenceIn,
    PreferenceKey,
    PreferencesOut,
    ProfileOut,
    ViewIn,
    WishlistOut,
    error_responses,
)
from hq._auth import ApiKeys
from hq._coupons_api import coupon_out, coupons_router
from hq._dashboard import DASHBOARD_DIR, fleet_router
from hq._enrolment import KioskProvisioner
from hq._enrolment_api import enrolment_routers
from hq._feed_api import ChangeFeed, feed_router
from hq._fleet import FleetView
from hq._guard import (
    API_KEY_HEADER,
    DEFAULT_FAILURE_RATE,
    AuthFailures,
    HttpGuard,
    RequestGuard,
    channel_dependency,
    shoppers_channel,
)
from hq._holds_api import holds_router
from hq._holds_models import reservation_out
from hq._offers_dashboard import offers_router
from hq._order_models import PROFILE_ORDERS, order_out
from hq._orders_api import ORDER_BODY_LIMITS, OrderStats, orders_router
from hq._phone_pages import PHONE_CHANNEL, PhonePages
from hq._phone_views import CatalogFile
from hq._responder import ProfileResponder, tell_fleet_to_forget
from hq._rollout_api import RolloutTargets, rollout_router
from hq._staff_pages import StaffPage
from hq._store import ProfileStore, shopper_key
from hq._webhooks_api import webhooks_router
from hq.exceptions import ApiRefusal, CredentialsError
from kiosk_protocol import (
    ONLINE_STORE,
    ConsentStatus,
    EventKind,
    Hlc,
    HlcClock,
    Sku,
    SyncError,
    TapEvent,
    channel_of,
    new_event,
)

log = logging.getLogger(__name__)

_ERRORS = error_responses(e401="Missing or unknown API key", e404="No such shopper or path",
                          e503="The profile database or the broker is out of reach; retry")

Shopper = Annotated[str, PathParam(pattern=SHOPPER_PATTERN, description="The shopper's id (as on their card).")]


def create_app(store: ProfileStore, keys: ApiKeys, *, broker_url: str | None = None,
               responder: ProfileResponder | None = None, fleet: FleetView | None = None,
               clock: HlcClock | None = None, body_limits: Mapping[str, int] | None = None,
               failure_rate: str = DEFAULT_FAILURE_RATE, changes: ChangeFeed | None = None,
               phone: PhonePages | None = None, catalog: CatalogFile | None = None,
               staff: StaffPage | None = None, enrolment: KioskProvisioner | None = None) -> FastAPI:
    """HQ's ASGI app: the profile API under ``/v1``, the dashboard under ``/fleet`` when ``fleet`` is given.

    Args:
        store: the profile store every channel shares.
        keys: each channel's API key.
        broker_url: where to tell the fleet to forget an erased shopper.
        responder: HQ's running profile responder: its connection tells the fleet instead
            (no connection of the erase's own, which could push another off the broker).
        fleet: the fleet view behind the dashboard (and its webhooks view); no dashboard without it.
        clock: the API's hybrid logical clock (``HlcClock("hq-api")`` by default).
        body_limits: larger body limits (bytes) by path prefix, for routes that take more than
            ``DEFAULT_BODY_LIMIT``.
        failure_rate: how many wrong keys and sign-ins an address may send (``limits`` notation).
        changes: what wakes the change streams (``ChangeFeed(store.changes)`` by default).
        phone: the pages for shoppers' phones (products, hand-off links); none without them.
        catalog: HQ's catalog, which orders' lines are checked against; none checked without it.
        staff: the store staff page (``/staff/``: a store's open requests, live); none without it.
        enrolment: what gives an approved new kiosk its broker login and settings (``/v1/enrolments``
            and the dashboard's approval, with ``fleet``); no enrolment without it.

    The app's ``state.guard`` holds the guard's counters (``GuardStats``); ``state.changes``
    the change feed, whose ``close`` ends the open change streams (before the server stops);
    ``state.orders`` the order routes' counters (``OrderStats``); ``state.analytics`` the analytics
    routes' (``AnalyticsStats``);
    ``state.phone`` the phone pages' counters (``PhoneStats``) when they are served, and
    ``state.staff`` the staff page's (``StaffStats``).

    Raises:
        CredentialsError: a channel of ``keys`` is named like the phone pages' own channel.
    """
    hlc_clock = clock or HlcClock("hq-api")
    guard = HttpGuard(keys, store, AuthFailures(failure_rate), {**ORDER_BODY_LIMITS, **(body_limits or {})})
    # Swagger UI's files are served by HQ itself (fastapi-offline), not loaded from a CDN.
    app = FastAPIOffline(
        title="Kiosk HQ", version="1",
        summary="The central shopper profile for every channel, and the kiosk fleet.",
        description=("Every channel (web shop, app, kiosks) reads and writes one profile. Call with your "
                     f"channel's key in `{API_KEY_HEADER}`. Errors are `{{\"error\": code, \"detail\": ...}}`."),
        redoc_url=None, static_url="/docs/static",
    )
    app.state.guard = guard
    app.state.changes = changes or ChangeFeed(store.changes)
    if phone is not None and PHONE_CHANNEL in keys.keys:  # its changes would pass for the phone pages'
        raise CredentialsError(f"channel {PHONE_CHANNEL!r} is the phone pages' own: give that key another name")
    app.add_middleware(RequestGuard, guard=guard)
    api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Your channel's API key.")

    Channel = Annotated[str, Depends(channel_dependency(api_key, shoppers_channel))]
    _install_error_handlers(app)

    def record_change(channel: str, shopper: str, kind: EventKind, session: uuid.UUID | None = None,
                      **details: object) -> Hlc:
        """Store one profile change from ``channel``, stamped after the shopper's newest change.

        The stamp follows this shopper's own newest change and HQ's clock, never other
        shoppers' (the clock is not moved by it), and not a stamp beyond the skew HQ allows.
        """
        refuse_if_erased(shopper)
        text = store.newest_hlc(shopper)
        newest = Hlc.parse(text) if text else None
        if newest is not None and hlc_clock.too_far_ahead(newest):
            log.warning("a change to a profile is stamped by HQ's clock: its newest stamp %s is more than %d s "
                        "ahead", newest, hlc_clock.max_ahead_ms // 1000)
        hlc = hlc_clock.after(newest)
        store.record_many([_event(kind, channel, shopper, session, hlc, None, {"hlc": str(hlc), **details})])
        return hlc

    def record_view(channel: str, shopper: str | None, session: uuid.UUID | None, sku: str,
                    event_id: uuid.UUID | None, response: Response) -> EventOut:
        event = _event(EventKind.PRODUCT_VIEW, channel, shopper, session, hlc_clock.now(), event_id, {"sku": sku})
        new = store.record_many([event])
        response.status_code = 201 if new else 200
        return EventOut(event_id=event.event_id, duplicate=not new)

    def refuse_if_erased(shopper: str) -> None:
        if store.is_erased(shopper):
            raise ApiRefusal(410, "erased", "this shopper's profile was erased; HQ keeps nothing more about them")

    def known_shopper(shopper: str) -> None:
        if not store.has_profile(shopper):
            raise ApiRefusal(404, "unknown_shopper", f"HQ holds no profile for {shopper!r}")

    @app.get("/v1/health", tags=["service"], responses={503: _ERRORS[503]})
    def health() -> HealthOut:
        """Whether this HQ process and its database answer (no key needed)."""
        store.ping()
        return HealthOut(status="ok", database=store.url.split(":", 1)[0])

    @app.get("/v1/shoppers/{shopper}", tags=["profiles"], responses=_ERRORS)
    def read_profile(shopper: Shopper, channel: Channel,
                     history_limit: Annotated[int, Query(ge=0, le=1000)] = 50) -> ProfileOut:
        """A shopper's profile: history from every channel, wishlist, preferences, consent, coupons and orders."""
        known_shopper(shopper)
        profile = store.profile(shopper, history_limit=history_limit)
        now = datetime.now(UTC)
        return ProfileOut(
            shopper=shopper, consent=profile.consent, wishlist=profile.wishlist, preferences=profile.preferences,
            display_name=profile.display_name,
            history=[HistoryEntry(event_id=uuid.UUID(e.event_id), kind=EventKind(e.kind),
                                  channel=channel_of(e.store, e.kiosk), store=e.store, kiosk=e.kiosk, sku=e.sku,
                                  at=_utc(e.at)) for e in profile.history],
            coupons=[coupon_out(c, now) for c in profile.coupons],
            orders=[order_out(order) for order in store.orders.of(shopper_key(shopper), limit=PROFILE_ORDERS)],
            reservations=[reservation_out(r) for r in profile.reservations],
        )

    @app.post("/v1/shoppers/{shopper}/views", tags=["events"], status_code=201,
              responses={**_ERRORS, 200: {"model": EventOut, "description": "Already stored (same event_id)"},
                         409: {"model": ApiError, "description": "The shopper has not granted consent"},
                         410: {"model": ApiError, "description": "The shopper's profile was erased"}})
    def post_view(shopper: Shopper, view: ViewIn, channel: Channel, response: Response) -> EventOut:
        """Record that a signed-in shopper viewed a product; needs their consent in force."""
        refuse_if_erased(shopper)
        consent = store.profile(shopper, history_limit=0).consent
        if consent is not ConsentStatus.GRANTED:
            raise ApiRefusal(409, "consent_required",
                             f"consent is {consent.value if consent else 'not given'}: views join a profile only "
                             "with consent granted (PUT .../consent), else post them to /v1/sessions/{session}/views")
        return record_view(channel, shopper, view.session, view.sku, view.event_id, response)

    @app.post("/v1/sessions/{session}/views", tags=["events"], status_code=201,
              responses={**_ERRORS, 200: {"model": EventOut, "description": "Already stored (same event_id)"}})
    def post_anonymous_view(session: uuid.UUID, view: AnonymousViewIn, channel: Channel,
                            response: Response) -> EventOut:
        """Record an anonymous view in a channel session (joins the profile if consent is granted in it)."""
        return record_view(channel, None, session, view.sku, view.event_id, response)

    @app.put("/v1/shoppers/{shopper}/wishlist/{sku}", tags=["profiles"],
             responses={**_ERRORS, 410: {"model": ApiError, "description": "The shopper's profile was erased"}})
    def add_to_wishlist(shopper: Shopper, sku: Annotated[Sku, PathParam()], channel: Channel) -> WishlistOut:
        """Put a product on the shopper's wishlist."""
        hlc = record_change(channel, shopper, EventKind.WISHLIST_ADD, sku=sku)
        return WishlistOut(shopper=shopper, wishlist=store.profile(shopper, history_limit=0).wishlist, hlc=str(hlc))

    @app.delete("/v1/shoppers/{shopper}/wishlist/{sku}", tags=["profiles"],
                responses={**_ERRORS, 410: {"model": ApiError, "description": "The shopper's profile was erased"}})
    def remove_from_wishlist(shopper: Shopper, sku: Annotated[Sku, PathParam()], channel: Channel) -> WishlistOut:
        """Take a product off the shopper's wishlist."""
        hlc = record_change(channel, shopper, EventKind.WISHLIST_REMOVE, sku=sku)
        return WishlistOut(shopper=shopper, wishlist=store.profile(shopper, history_limit=0).wishlist, hlc=str(hlc))

    @app.put("/v1/shoppers/{shopper}/preferences/{key}", tags=["profiles"],
             responses={**_ERRORS, 410: {"model": ApiError, "description": "The shopper's profile was erased"}})
    def set_preference(shopper: Shopper, key: Annotated[PreferenceKey, PathParam()], body: PreferenceIn,
                       channel: Channel) -> PreferencesOut:
        """Set one of the shopper's preferences (the newest change wins, by HLC)."""
        hlc = record_change(channel, shopper, EventKind.PREFERENCE, key=key, value=body.value)
        return PreferencesOut(shopper=shopper, preferences=store.profile(shopper, history_limit=0).preferences,
                              hlc=str(hlc))

    @app.put("/v1/shoppers/{shopper}/display-name", tags=["profiles"],
             responses={**_ERRORS, 410: {"model": ApiError, "description": "The shopper's profile was erased"}})
    def set_display_name(shopper: Shopper, body: DisplayNameIn, channel: Channel) -> DisplayNameOut:
        """Set what channels may call the shopper by (the newest change wins, by HLC)."""
        hlc = record_change(channel, shopper, EventKind.DISPLAY_NAME, display_name=body.display_name)
        return DisplayNameOut(shopper=shopper, display_name=store.profile(shopper, history_limit=0).display_name,
                              hlc=str(hlc))

    @app.put("/v1/shoppers/{shopper}/consent", tags=["profiles"],
             responses={**_ERRORS, 410: {"model": ApiError, "description": "The shopper's profile was erased"}})
    def change_consent(shopper: Shopper, body: ConsentIn, channel: Channel) -> ConsentOut:
        """Grant, deny or revoke linking the shopper's visits to their profile."""
        hlc = record_change(channel, shopper, EventKind.CONSENT, session=body.session, consent=body.status)
        return ConsentOut(shopper=shopper, consent=store.profile(shopper, history_limit=0).consent, hlc=str(hlc))

    @app.get("/v1/shoppers/{shopper}/export", tags=["privacy"], responses=_ERRORS)
    def export_profile(shopper: Shopper, channel: Channel) -> ExportOut:
        """Everything HQ holds about the shopper (their right of access)."""
        known_shopper(shopper)
        log.info("channel %s exported a profile", channel)
        return ExportOut.model_validate(store.export(shopper))

    @app.delete("/v1/shoppers/{shopper}", tags=["privacy"], responses=_ERRORS)
    def erase_profile(shopper: Shopper, channel: Channel) -> EraseOut:
        """Erase everything about the shopper at HQ and have every kiosk drop its cached copy.

        Safe to repeat: when the kiosks could not be told, the answer is 503 and a retry
        tells them.
        """
        if not store.has_profile(shopper) and not store.is_erased(shopper):  # no tombstone for a stranger
            raise ApiRefusal(404, "unknown_shopper", f"HQ holds no profile for {shopper!r}")
        erased = store.erase(shopper, by=channel)
        log.info("channel %s erased a profile (%d events)", channel, erased)
        fleet_link = responder or broker_url
        if fleet_link is None:
            return EraseOut(shopper=shopper, erased_events=erased, fleet_told=False)
        try:
            tell_fleet_to_forget(fleet_link, shopper, client_id=f"hq-api-erase-{uuid.uuid4().hex[:8]}", timeout_s=5)
        except SyncError as exc:
            raise ApiRefusal(503, "fleet_unreachable", f"erased at HQ ({erased} events), but {exc}; repeat the "
                             "DELETE to tell the kiosks", {"Retry-After": "5"}) from exc
        return EraseOut(shopper=shopper, erased_events=erased, fleet_told=True)

    app.include_router(feed_router(app.state.changes, api_key))
    app.include_router(coupons_router(store, api_key, record_change))
    app.state.orders = OrderStats()
    app.include_router(orders_router(store, api_key, app.state.orders, catalog))
    app.include_router(holds_router(store, api_key))  # a store's stock and reservations
    # Analytics count each store's days in its own time zone: the catalog's stores go to the roll-ups first.
    facts = CatalogFacts(catalog, store.analytics)
    app.state.analytics = AnalyticsStats()
    app.include_router(analytics_router(AnalyticsQueries(store.engine, store.uptime, facts.products), api_key,
                                        app.state.analytics, facts))
    app.include_router(analytics_stores_router(store.engine, api_key, facts.refresh))  # the page's store filter
    if phone is not None:
        app.state.phone = phone.stats
        app.include_router(phone.router(record_change))  # a phone's wishlist change is stored as the API's
    if staff is not None:
        app.state.staff = staff.stats
        app.include_router(staff.router(guard))
    if fleet is not None:
        targets = RolloutTargets(store.rollouts, fleet)
        app.include_router(fleet_router(fleet, guard, api_key, targets.target_of))
        app.include_router(rollout_router(store.rollouts, fleet, keys, api_key))
        app.include_router(webhooks_router(store.webhooks, keys, api_key))
        app.include_router(offers_router(store, keys, api_key))
        if enrolment is not None:
            for router in enrolment_routers(store.enrolments, enrolment, guard, api_key):
                app.include_router(router)
        app.mount("/fleet/static", StaticFiles(directory=DASHBOARD_DIR), name="fleet-static")
    return app


def _event(kind: EventKind, channel: str, shopper: str | None, session: uuid.UUID | None, stamp: Hlc,
           event_id: uuid.UUID | None, details: dict[str, object]) -> TapEvent:
    # A channel has no outbox; its HLC gives a sequence that grows like an outbox's.
    seq = stamp.wall_ms * 1000 + min(stamp.counter, 999)
    try:
        return new_event(kind=kind, store=ONLINE_STORE, kiosk=channel, seq=seq, session=session or uuid.uuid4(),
                         shopper=shopper, event_id=event_id, **details)
    except ValidationError as exc:
        raise ApiRefusal(422, "invalid_request", exc.errors(include_url=False, include_context=False)) from exc


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _install_error_handlers(app: FastAPI) -> None:
    def refused(request: Request, status: int, code: str, detail: Any,
                headers: Mapping[str, str] | None = None) -> JSONResponse:
        request.app.state.guard.stats.answers_refused[code] += 1
        return _error(status, code, detail, headers)

    def refusal(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiRefusal)
        return refused(request, exc.status, exc.error, exc.detail, exc.headers)

    def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [{"where": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
                    for error in exc.errors()]
        return refused(request, 422, "invalid_request", problems)

    def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        codes = {400: "malformed_body", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                 413: "body_too_large"}
        return refused(request, exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail, exc.headers)

    def store_down(request: Request, exc: Exception) -> JSONResponse:
        log.error("profile database error on %s %s: %s", request.method, request.url.path, exc)
        return _error(503, "store_unavailable", "the profile database is out of reach; retry", {"Retry-After": "1"})

    handlers: dict[type[Exception], Callable[[Request, Exception], JSONResponse]] = {
        ApiRefusal: refusal, RequestValidationError: invalid, StarletteHTTPException: http_error,
        SQLAlchemyError: store_down,
    }
    for exception, handler in handlers.items():
        app.add_exception_handler(exception, handler)


def _error(status: int, error: str, detail: Any, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(ApiError(error=error, detail=detail).model_dump(mode="json"), status_code=status,
                        headers=headers)
