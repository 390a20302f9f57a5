"""The gate in front of HQ's app: who calls, how much they may send, how often they may fail.

``RequestGuard`` is ASGI middleware that runs before any route reads a byte of a body:

- every path but a few public ones needs a channel's key in ``X-Api-Key`` (the dashboard's
  API also takes its sign-in cookie); without one the answer is 401 before the body is read;
- a body may be at most ``DEFAULT_BODY_LIMIT`` bytes (more only on routes given a larger
  limit): a larger ``Content-Length`` gets 413 before the body is read, and a streamed
  (chunked) body gets 413 as soon as the bytes that arrived pass the limit;
- wrong keys and failed sign-ins are counted per client address (``AuthFailures``): past
  the rate, every keyed request from that address gets 429 until the window has passed,
  whatever its key, so guessing learns nothing more. Successful calls are not counted;
- every answer says ``nosniff`` and may not be framed; the dashboard's pages also carry a
  Content-Security-Policy that allows only HQ's own scripts and styles, and the phone
  pages (public: a shopper has no key) one that allows nothing but HQ's own files.

The store staff page (``/staff/``, ``_staff_pages``) passes the key check: its API checks
the staff sign-in cookie itself (a store's, not a channel's), and it carries the
dashboard's Content-Security-Policy.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Security
from fastapi.security import APIKeyHeader
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hq._api_models import ApiError
from hq._auth import ApiKeys, Grant, KeyRole
from hq._store import ProfileStore
from hq.exceptions import ApiRefusal

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Api-Key"
SESSION_COOKIE = "hq_fleet_session"
DEFAULT_BODY_LIMIT = 16 * 1024  # every body HQ's routes take is a few hundred bytes
DEFAULT_FAILURE_RATE = "20/minute"
_PUBLIC_PATHS = frozenset({"/v1/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/fleet", "/fleet/",
                           "/fleet/session", "/fleet/offers", "/fleet/analytics", "/staff"})
# The phone pages (hq/_phone_pages.py): a product, an offer, a hand-off link, the visit on a phone.
_PHONE_PREFIXES = ("/p/", "/o/", "/h/", "/phone/")
_STAFF_PREFIX = "/staff/"  # the staff page checks its own sign-in (hq/_staff_pages.py)
_ENROLMENT_PREFIX = "/v1/enrolments"  # a new kiosk has no key yet: its token, and HQ's rate limits, guard it
_PUBLIC_PREFIXES = ("/docs/static/", "/fleet/static/", _STAFF_PREFIX, _ENROLMENT_PREFIX, *_PHONE_PREFIXES)
_SESSION_PREFIX = "/fleet/api/"  # where a browser's sign-in cookie stands for a key
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer")]
# blob: for a kiosk's screenshot, fetched by the page (to read a refusal) and shown from memory.
_DASHBOARD_CSP = (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; "
                  b"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                  b"form-action 'self'; frame-ancestors 'none'")
# The phone pages send their referrer to HQ itself only: a same-origin form then carries its
# true Origin (under no-referrer every Origin is "null"), which the wishlist form is checked by.
_PHONE_HEADERS = [
    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                 b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
]


@dataclass
class GuardStats:
    """Requests the guard refused, by why."""

    unauthenticated: int = 0  # no key (or no valid sign-in cookie)
    keys_refused: int = 0  # a key that is no channel's
    sign_ins_refused: int = 0
    rate_limited: int = 0
    bodies_too_large: int = 0
    # Answers refused past the guard (403 other_store, 422 invalid_request, 404 unknown_shopper...), by code.
    answers_refused: collections.Counter[str] = field(default_factory=collections.Counter)


class AuthFailures:
    """Failed keys and sign-ins per client address, within a moving window (``limits``)."""

    def __init__(self, rate: str = DEFAULT_FAILURE_RATE) -> None:
        self.rate = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None if it may now."""
        if self._limiter.test(self.rate, client):
            return None
        reset = self._limiter.get_window_stats(self.rate, client).reset_time
        return max(1, math.ceil(reset - time.time()))

    def failed(self, client: str) -> None:
        """Count one failure of ``client``'s; logs when it has used up its rate."""
        self._limiter.hit(self.rate, client)
        if (wait := self.retry_after(client)) is not None:
            log.warning("client %s failed %s; it is refused for %ds", client, self.rate, wait)


@dataclass
class HttpGuard:
    """What ``RequestGuard`` checks against, shared with the routes that check keys themselves."""

    keys: ApiKeys
    store: ProfileStore
    failures: AuthFailures = field(default_factory=AuthFailures)
    # path prefix -> bytes, for larger bodies; a ``*`` segment stands for any one segment
    body_limits: Mapping[str, int] = field(default_factory=dict)
    default_body_limit: int = DEFAULT_BODY_LIMIT
    stats: GuardStats = field(default_factory=GuardStats)

    def body_limit(self, path: str) -> int:
        """The largest body a request to ``path`` may send (the longest matching prefix wins)."""
        matches = [prefix for prefix in self.body_limits if _starts_with(path, prefix)]
        return self.body_limits[max(matches, key=len)] if matches else self.default_body_limit

    def session_channel(self, token: str | None) -> str | None:
        """The channel a sign-in cookie stands for: None if forged, expired or signed out."""
        channel = self.keys.channel_for_session(token)
        if channel is None or token is None or self.store.is_session_revoked(session_digest(token)):
            return None
        return channel


def _starts_with(path: str, prefix: str) -> bool:
    """Whether ``path`` begins with ``prefix``, whose ``*`` segments match any one segment of it."""
    if "*" not in prefix:
        return path.startswith(prefix)
    wanted, given = prefix.split("/"), path.split("/")
    return len(given) >= len(wanted) and all(want in ("*", seg) for want, seg in zip(wanted, given, strict=False))


def session_digest(token: str) -> str:
    """How a sign-in token is named where revocations are kept (the token itself never is)."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_address(scope: Scope) -> str:
    """The caller's address (a trusted proxy's X-Forwarded-For already applied by uvicorn)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def authenticated_channel(request: Request) -> str:
    """The channel ``RequestGuard`` has authenticated this request as."""
    channel = request.scope.get("state", {}).get("channel")
    if not isinstance(channel, str):  # a route the guard was not told needs a key
        raise HTTPException(401, f"missing or unknown {API_KEY_HEADER}", {"WWW-Authenticate": API_KEY_HEADER})
    return channel


def authenticated_grant(request: Request) -> Grant:
    """What the caller ``RequestGuard`` has authenticated may do."""
    authenticated_channel(request)
    grant: Grant = request.scope["state"]["grant"]
    return grant


def shoppers_channel(request: Request) -> str:
    """The authenticated channel, if it may see and change shoppers' profiles and follow their
    changes: a store key may not (403 ``store_key``), so a key taken from a store's back office
    or till reads no shopper's data. (A till's key records a shopper's order in its own store
    and redeems their coupons: those routes ask only ``acting_in``.)"""
    channel = authenticated_channel(request)
    if authenticated_grant(request).role is KeyRole.STORE:
        raise ApiRefusal(403, "store_key", f"this key is {channel!r}'s, a store's staff: it acts on its store's "
                         "stock, reservations and requests, never on shoppers' profiles")
    return channel


def acting_in(request: Request, store: str) -> str:
    """The authenticated channel, if it may act in ``store``; a store key of another store is refused (403)."""
    channel = authenticated_channel(request)
    if not authenticated_grant(request).may_act_in(store):
        raise ApiRefusal(403, "other_store", f"this key is {channel!r}'s, staff of another store than {store!r}")
    return channel


def channel_dependency(api_key: APIKeyHeader,
                       who: Callable[[Request], str] = authenticated_channel) -> Callable[..., Awaitable[str]]:
    """A route dependency: the calling channel, ``who(request)``; RequestGuard checked its key
    before the body was read (``api_key`` names the header in the OpenAPI document).

    The dependency is a coroutine as it does no I/O: FastAPI would run a plain function on a
    worker thread, a hop that cost a request more than its route's own work.
    """

    async def calling_channel(request: Request, key: str | None = Security(api_key)) -> str:
        return who(request)

    return calling_channel


class BodyTooLarge(HTTPException):
    """A body passed its route's limit while it arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body may be at most {limit} bytes", {"Connection": "close"})


class RequestGuard:
    """ASGI middleware: authenticate from the headers, then let the body through counted."""

    def __init__(self, app: ASGIApp, guard: HttpGuard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = _with_security_headers(send, path)
        headers = Headers(scope=scope)
        body_pending = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"
        if not (path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES)):
            client = client_address(scope)
            if (wait := self.guard.failures.retry_after(client)) is not None:
                self.guard.stats.rate_limited += 1
                await _refuse(scope, send, 429, "too_many_failures",
                              f"too many wrong keys or sign-ins from {client}; retry in {wait}s",
                              {"Retry-After": str(wait)}, close=body_pending)
                return
            try:
                channel = self._authenticate(scope, headers, path, client)
            except SQLAlchemyError as exc:  # where sign-outs are kept is out of reach
                log.error("profile database error checking a sign-in on %s %r: %s", scope["method"], path, exc)
                await _refuse(scope, send, 503, "store_unavailable", "the profile database is out of reach; retry",
                              {"Retry-After": "1"}, close=body_pending)
                return
            if channel is None:
                await _refuse(scope, send, 401, "unauthorized",
                              f"missing or unknown {API_KEY_HEADER}" + (", or sign in" if path.startswith(
                                  _SESSION_PREFIX) else ""), {"WWW-Authenticate": API_KEY_HEADER},
                              close=body_pending)
                return
            scope.setdefault("state", {}).update(channel=channel, grant=self.guard.keys.grant(channel))
        limit = self.guard.body_limit(path)
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = 0  # uvicorn has already refused such a request; a test client may not
        if length > limit:
            self._count_too_large(scope, limit)
            await _refuse(scope, send, 413, "body_too_large", f"the body may be at most {limit} bytes",
                          close=True)
            return
        await self.app(scope, self._counted(receive, scope, limit), send)

    def _authenticate(self, scope: Scope, headers: Headers, path: str, client: str) -> str | None:
        key = headers.get(API_KEY_HEADER)
        if key:
            channel = self.guard.keys.channel_for(key)
            if channel is None:
                self.guard.stats.keys_refused += 1
                log.warning("refused a wrong %s from %s on %s %r", API_KEY_HEADER, client, scope["method"], path)
                self.guard.failures.failed(client)
            return channel
        if path.startswith(_SESSION_PREFIX):
            channel = self.guard.session_channel(Request(scope).cookies.get(SESSION_COOKIE))
            if channel is not None:
                return channel
        self.guard.stats.unauthenticated += 1
        log.info("refused %s %r from %s: not signed in and no %s", scope["method"], path, client, API_KEY_HEADER)
        return None

    def _counted(self, receive: Receive, scope: Scope, limit: int) -> Receive:
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    self._count_too_large(scope, limit)
                    raise BodyTooLarge(limit)
            return message

        return counted_receive

    def _count_too_large(self, scope: Scope, limit: int) -> None:
        self.guard.stats.bodies_too_large += 1
        log.warning("refused a body over %d bytes from %s on %s %r", limit, client_address(scope), scope["method"],
                    scope["path"])


def _with_security_headers(send: Send, path: str) -> Send:
    if path in ("/fleet", "/staff") or path.startswith(("/fleet/", _STAFF_PREFIX)):
        extra = [*_HEADERS, _DASHBOARD_CSP]
    else:
        extra = _PHONE_HEADERS if path.startswith(_PHONE_PREFIXES) else _HEADERS

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_headers


async def _refuse(scope: Scope, send: Send, status: int, error: str, detail: Any,
                  headers: dict[str, str] | None = None, *, close: bool = False) -> None:
    """Answer with an ``ApiError`` without reading the body; ``close`` ends the connection after,
    so a body the client is still sending is never read."""
    response = JSONResponse(ApiError(error=error, detail=detail).model_dump(mode="json"), status_code=status,
                            headers={**(headers or {}), **({"Connection": "close"} if close else {})})

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)
