"""The store staff page: a store's open requests on a phone or tablet, live, with the
buttons that move them on.

    GET    /staff/[?store=<store>][&lang=es|en]       the page (sign-in, then the live list)
    POST   /staff/session                             sign in: a store key or a staff badge
    DELETE /staff/session                             sign out (the token is revoked at HQ)
    GET    /staff/api/session                         who is signed in, for which store
    GET    /staff/api/<store>/requests                the store's open requests, oldest first
    GET    /staff/api/<store>/stream                  the same, again at every change (Server-Sent Events)
    POST   /staff/api/<store>/requests/<id>/take      someone is on it
    POST   /staff/api/<store>/requests/<id>/ready     in the fitting room or at the counter ({"note"})
    POST   /staff/api/<store>/requests/<id>/cancel    cancel it; its unit is free again
    GET    /staff/static/<file>, /staff/images/<name> the page's files and the catalog's photos

The page carries the staff session's cookie (HttpOnly, SameSite=Strict, path ``/staff``),
not a key: the API under ``/staff/api`` checks that cookie itself (``_staff_sessions``),
and a session of another store is refused with 403 ``other_store``. Failed sign-ins count
against the caller's address like the dashboard's, and past the rate are refused (429).
The list comes from ``Reservations.open_in``; a stream is woken by every commit of this
HQ process and polls for other processes' changes.
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hq._guard import HttpGuard, client_address, session_digest
from hq._holds_models import RESERVATION_PATTERN, STORE_PATTERN, Note
from hq._phone_texts import other_language, pick_language
from hq._phone_views import ONE_SIZE, CatalogFile, store_name
from hq._reservations import Reservation, ReservationRefused, ReservationState
from hq._staff_sessions import STAFF_COOKIE, StaffSession, StaffSessions, StaffSignInRefused
from hq._staff_texts import staff_texts
from hq._store import ProfileStore
from hq.exceptions import ApiRefusal

log = logging.getLogger(__name__)

STAFF_DIR = Path(__file__).with_name("staff")
_STATIC = {"staff.css": "text/css", "staff.js": "text/javascript"}
_IMAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,150}$")
_POLL_S = 2.0  # how soon a stream sees a change another HQ process made
_MIN_GAP_S = 0.2  # between a stream's looks: a busy ingest commits far more often than staff need
DEFAULT_ALERT_MINUTES = 5  # a request nobody has taken for this long is late


@dataclass
class StaffStats:
    """What the staff page did and refused (sign-ins refused count in the guard's stats too)."""

    sign_ins: int = 0
    sign_ins_refused: int = 0
    not_signed_in: int = 0  # API calls without a valid session
    other_store: int = 0  # a session of one store acting in another
    moves: int = 0  # take, ready, cancel done
    moves_refused: int = 0


class StaffSignIn(BaseModel):
    """A store key, or a staff badge's code and (for a badge of every store) the store."""

    model_config = ConfigDict(extra="forbid")

    credential: str = Field(min_length=1, max_length=2048)
    store: str | None = Field(default=None, pattern=STORE_PATTERN)


class ReadyIn(BaseModel):
    """Where the unit waits for the shopper."""

    model_config = ConfigDict(extra="forbid")

    note: Note | None = None


class StaffRequest(BaseModel):
    """One open request as the staff page lists it."""

    id: str
    kiosk: str | None = Field(description="The kiosk it was asked at; null: online or at the till.")
    sku: str
    size: str
    kind: str
    state: str
    note: str | None
    created_at: datetime
    expires_at: datetime
    product: str = Field(description="The product's name in the page's language (its SKU if the catalog has none).")
    image: str | None = Field(description="The product's photo, relative to /staff/.")


class StaffList(BaseModel):
    """A store's open requests, oldest first, at ``generated_at`` (HQ's clock)."""

    store: str
    generated_at: datetime
    requests: list[StaffRequest]


class StaffPage:
    """The staff page over the profile store, its sign-ins, and HQ's catalog (for names and photos)."""

    def __init__(self, store: ProfileStore, sessions: StaffSessions, catalog: CatalogFile | None = None,
                 poll_s: float = _POLL_S, alert_minutes: int = DEFAULT_ALERT_MINUTES) -> None:
        self.store, self.sessions, self.catalog = store, sessions, catalog
        self.alert_minutes = alert_minutes  # a request waiting this long is marked on the page
        self.stats = StaffStats()
        self.closed = False
        self._poll_s = poll_s
        self._templates = Environment(loader=FileSystemLoader(STAFF_DIR), autoescape=True,
                                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def close(self) -> None:
        """End every open stream within a poll (before the server stops)."""
        self.closed = True

    def listing(self, store: str, language: str) -> StaffList:
        """``store``'s open requests, oldest first, named in ``language``."""
        return StaffList(store=store, generated_at=datetime.now(UTC),
                         requests=[self._request(r, language) for r in self.store.reservations.open_in(store)])

    def router(self, guard: HttpGuard) -> APIRouter:
        """The page's routes; sign-ins count their failures in ``guard``'s."""
        router = APIRouter(prefix="/staff", include_in_schema=False)
        Store = Annotated[str, PathParam(pattern=STORE_PATTERN)]

        def signed_in(request: Request, store: Store) -> StaffSession:
            session = self._session(request)
            if session is None:
                self.stats.not_signed_in += 1
                raise ApiRefusal(401, "unauthorized", "sign in to the staff page")
            if session.store != store:
                self.stats.other_store += 1
                log.warning("refused %s of %s on %s's staff page", session.by, session.store, store)
                raise ApiRefusal(403, "other_store", f"signed in for {session.store}, not for {store}")
            return session

        Staff = Annotated[StaffSession, Depends(signed_in)]

        @router.get("")
        def to_page() -> RedirectResponse:
            return RedirectResponse("/staff/")

        @router.get("/")
        def page(request: Request, lang: str | None = None, store: str | None = None) -> HTMLResponse:
            return self._page(request, lang, store)

        @router.get("/static/{name}")
        def static(name: str) -> Response:
            if name not in _STATIC:
                return PlainTextResponse("not found", 404)
            return FileResponse(STAFF_DIR / name, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})

        @router.get("/images/{name}")
        def image(name: str) -> Response:
            path = self.catalog.image(name) if self.catalog is not None and _IMAGE_NAME.match(name) else None
            if path is None:
                return PlainTextResponse("not found", 404)
            return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

        @router.post("/session", status_code=204)
        def sign_in(body: StaffSignIn, request: Request, response: Response) -> None:
            client = client_address(request.scope)
            if (wait := guard.failures.retry_after(client)) is not None:
                guard.stats.rate_limited += 1
                raise ApiRefusal(429, "too_many_failures", f"too many wrong keys or sign-ins from {client}; "
                                 f"retry in {wait}s", {"Retry-After": str(wait)})
            try:
                session, token = self.sessions.sign_in(body.credential, body.store)
            except StaffSignInRefused as refused:
                self.stats.sign_ins_refused += 1
                guard.stats.sign_ins_refused += 1
                guard.failures.failed(client)
                log.warning("refused a staff sign-in from %s: %s", client, refused.detail)
                raise ApiRefusal(refused.status, refused.error, refused.detail) from None
            self.stats.sign_ins += 1
            response.set_cookie(STAFF_COOKIE, token, max_age=max(1, session.expires_at - int(_now())), httponly=True,
                                samesite="strict", secure=request.url.scheme == "https", path="/staff")
            log.info("staff sign-in of %s for %s", session.by, session.store)

        @router.delete("/session", status_code=204)
        def sign_out(request: Request, response: Response) -> None:
            token = request.cookies.get(STAFF_COOKIE)
            session = self.sessions.session(token)
            if token and session is not None:  # kept until it would have expired, for every HQ process to refuse
                self.store.revoke_session(session_digest(token), datetime.fromtimestamp(session.expires_at, UTC))
                log.info("staff sign-out of %s for %s", session.by, session.store)
            response.delete_cookie(STAFF_COOKIE, path="/staff", httponly=True, samesite="strict",
                                   secure=request.url.scheme == "https")

        @router.get("/api/session")
        def who(request: Request) -> dict[str, str]:
            session = self._session(request)
            if session is None:
                self.stats.not_signed_in += 1
                raise ApiRefusal(401, "unauthorized", "sign in to the staff page")
            name = store_name(self.catalog.current(), session.store) if self.catalog is not None else None
            return {"store": session.store, "store_name": name or session.store, "by": session.by}

        @router.get("/api/{store}/requests")
        def requests(store: Store, staff: Staff, lang: str | None = None) -> StaffList:
            return self.listing(store, pick_language(lang, None))

        @router.get("/api/{store}/stream", response_class=EventSourceResponse)
        async def stream(request: Request, store: Store, staff: Staff,
                         lang: str | None = None) -> AsyncIterable[ServerSentEvent]:
            async for event in self._stream(request, store, pick_language(lang, None)):
                yield event

        @router.post("/api/{store}/requests/{reservation}/take")
        def take(store: Store, reservation: str, staff: Staff, lang: str | None = None) -> StaffRequest:
            return self._moved(store, reservation, staff, lang, lambda r: self.store.reservations.move(
                store, r, ReservationState.TAKEN, None, staff.by))

        @router.post("/api/{store}/requests/{reservation}/ready")
        def ready(store: Store, reservation: str, staff: Staff, body: ReadyIn | None = None,
                  lang: str | None = None) -> StaffRequest:
            note = body.note if body else None
            return self._moved(store, reservation, staff, lang, lambda r: self.store.reservations.move(
                store, r, ReservationState.READY, note, staff.by))

        @router.post("/api/{store}/requests/{reservation}/cancel")
        def cancel(store: Store, reservation: str, staff: Staff, lang: str | None = None) -> StaffRequest:
            return self._moved(store, reservation, staff, lang,
                               lambda r: self.store.reservations.cancel(store, r, staff.by))

        return router

    def _moved(self, store: str, reservation: str, staff: StaffSession, lang: str | None,
               move: Any) -> StaffRequest:
        if not re.fullmatch(RESERVATION_PATTERN, reservation):
            self.stats.moves_refused += 1
            raise ApiRefusal(404, "unknown_reservation", "not a reservation id: 32 lowercase hexadecimal digits")
        try:
            moved: Reservation = move(reservation)
        except ReservationRefused as exc:
            self.stats.moves_refused += 1
            raise ApiRefusal(exc.status, exc.error, exc.detail) from exc
        self.stats.moves += 1
        log.info("%s moved request %s at %s to %s", staff.by, reservation, store, moved.state.value)
        return self._request(moved, pick_language(lang, None))

    async def _stream(self, request: Request, store: str, language: str) -> AsyncIterable[ServerSentEvent]:
        """The list now, then again whenever it changes, until the session ends or HQ stops."""
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the server's loop has closed
                loop.call_soon_threadsafe(woken.set)

        unfollow = self.store.changes.written.follow(wake)
        shown: list[tuple[str, str, str | None]] | None = None
        try:
            while not self.closed:
                woken.clear()
                if await run_in_threadpool(self._session, request) is None:  # signed out or expired meanwhile
                    yield ServerSentEvent(event="signed_out", data={})
                    return
                listing = await run_in_threadpool(self.listing, store, language)
                now_shown = [(r.id, r.state, r.note) for r in listing.requests]
                if now_shown != shown:
                    yield ServerSentEvent(event="requests", data=listing.model_dump(mode="json"), retry=2000)
                    shown = now_shown
                looked = loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self._poll_s)
                if (rest := _MIN_GAP_S - (loop.time() - looked)) > 0:
                    await asyncio.sleep(rest)
        finally:
            unfollow()

    def _session(self, request: Request) -> StaffSession | None:
        token = request.cookies.get(STAFF_COOKIE)
        session = self.sessions.session(token)
        if session is None or token is None or self.store.is_session_revoked(session_digest(token)):
            return None
        return session

    def _request(self, r: Reservation, language: str) -> StaffRequest:
        product = self.catalog.current().product(r.sku) if self.catalog is not None else None
        image = f"images/{product.image.removeprefix('images/')}" if product is not None else None
        return StaffRequest(id=r.reservation_id, kiosk=r.kiosk, sku=r.sku, size=r.size,
                            kind=r.kind.value, state=r.state.value, note=r.note, created_at=r.created_at,
                            expires_at=r.expires_at, product=product.name.get(language) if product else r.sku,
                            image=image)

    def _page(self, request: Request, lang: str | None, store: str | None) -> HTMLResponse:
        language = pick_language(lang, request.headers.get("accept-language"))
        texts = staff_texts(language)
        stores = [(s.id, s.name) for s in self.catalog.current().stores] if self.catalog is not None else []
        chosen = store if store and re.fullmatch(STORE_PATTERN, store) else ""
        other = other_language(language)
        switch = f"?lang={other}" + (f"&store={chosen}" if chosen else "")
        html = self._templates.get_template("index.html").render(
            t=texts, lang=language, stores=stores, chosen=chosen, switch_href=switch, switch_lang=other,
            script_texts={**texts, "lang": language, "one_size_code": ONE_SIZE,
                                                      "alert_minutes": self.alert_minutes})
        return HTMLResponse(html, headers={"Cache-Control": "no-store", "Content-Language": language,
                                           "Vary": "Accept-Language"})


def _now() -> float:
    return datetime.now(UTC).timestamp()
