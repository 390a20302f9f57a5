"""HQ's pages for shoppers' phones, server-rendered (Jinja2), in Spanish or English.

    GET  /p/<sku>[?store=<store>]   a product: what a product tag's URI record opens
    GET  /o/<offer>[?store=<store>] an offer: what a sign tag's URI record opens
    GET  /h/<token>                 a kiosk's hand-off link: taken once, then the visit page
    GET  /phone/visit               the visit on the phone that opened its link
    POST /phone/wishlist            add to or remove from the wishlist (a form; answered by a redirect)
    POST /phone/coupons             save a members' offer to the visit's shopper's card (a form, likewise)
    GET  /phone/static/<file>       the style sheet and the one small script
    GET  /phone/images/<name>       the catalog's product images

Every link in a page is relative (every page sits two levels down), so a retailer's
web shop may serve the same paths under a prefix of its own. The pages need no
script: the script only posts the wishlist forms in the background. A wishlist change
is stored through the API's own ``record_change``, as channel ``phone``: the same
event, HLC stamping and merge as a ``PUT``/``DELETE`` on ``/v1/shoppers/.../wishlist``;
a saved coupon likewise, as the ``coupon_save`` of a ``PUT`` on ``/v1/shoppers/.../coupons/<offer>``.
A form counts only from a page of this site (its ``Origin``) carrying the form token of
the phone's own session; the session's cookie is HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from hq._handoff import LINK_TTL_S, HandoffKey
from hq._phone_offers import offer_page
from hq._phone_sessions import PhoneSessions, PhoneVisit
from hq._phone_texts import other_language, pick_language, texts_for
from hq._phone_views import CatalogFile, ProductCard, product_card, product_detail, store_name
from hq._store import ProfileStore, shopper_key
from hq.exceptions import ApiRefusal, HandoffRefused, LinkRefusal
from kiosk_protocol import OFFER_ID_PATTERN, Catalog, ConsentStatus, EventKind, Hlc, Offer, OfferState

log = logging.getLogger(__name__)

PHONE_DIR = Path(__file__).with_name("phone")
PHONE_CHANNEL = "phone"  # the channel a phone's wishlist changes are stored as (store "online", kiosk "phone")
VISIT_COOKIE = "kiosk_visit"
_ROOT = "../"  # from any page (/p/<sku>, /o/<offer>, /h/<token>, /phone/<page>) to the site's root
_STATIC = {"phone.css": "text/css", "phone.js": "text/javascript"}
_SKU = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
_OFFER_ID = re.compile(OFFER_ID_PATTERN)
_IMAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,150}$")
_REFUSAL_STATUS = {LinkRefusal.MALFORMED: 400, LinkRefusal.FORGED: 403, LinkRefusal.EXPIRED: 410,
                   LinkRefusal.USED: 410}
_REFUSAL_TEXTS = {LinkRefusal.MALFORMED: "forged", LinkRefusal.FORGED: "forged", LinkRefusal.EXPIRED: "expired",
                  LinkRefusal.USED: "used"}

# The API's change recorder: (channel, shopper, kind, session, **details) -> the change's HLC.
RecordChange = Callable[..., Hlc]


@dataclass
class PhoneStats:
    """Hand-off links taken and refused, and wishlist forms refused, by why (each refusal is logged too)."""

    links_opened: int = 0
    links_malformed: int = 0
    links_forged: int = 0
    links_expired: int = 0
    links_used: int = 0
    forms_refused: int = 0  # from another site, or without the phone session's form token
    wishlist_changes: int = 0
    coupons_saved: int = 0


class PhonePages:
    """The phone pages over HQ's catalog file and profile store; hand-off links too when given ``key``."""

    def __init__(self, store: ProfileStore, catalog: CatalogFile, key: HandoffKey | None = None, *,
                 public_url: str | None = None, clock: Callable[[], float] = time.time,
                 link_ttl_s: int = LINK_TTL_S) -> None:
        self.store, self.catalog, self.stats = store, catalog, PhoneStats()
        self._key = key
        self.sessions = PhoneSessions(store, clock) if key is not None else None
        self._clock, self._link_ttl_s = clock, link_ttl_s
        public = urlsplit(public_url) if public_url else None
        self._public_origin = f"{public.scheme}://{public.netloc}" if public else None
        self._templates = Environment(loader=FileSystemLoader(PHONE_DIR), autoescape=True,
                                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def router(self, record_change: RecordChange) -> APIRouter:
        """The pages' routes; ``record_change`` stores a wishlist change as the API does."""
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/p/{sku}", self._product_page, methods=["GET"])
        router.add_api_route("/o/{offer_id:path}", self._offer_page, methods=["GET"])
        router.add_api_route("/h/{token}", self._open_link, methods=["GET"])
        router.add_api_route("/phone/visit", self._visit_page, methods=["GET"])
        router.add_api_route("/phone/static/{name}", self._static, methods=["GET"])
        router.add_api_route("/phone/images/{name}", self._image, methods=["GET"])

        async def change_wishlist(request: Request) -> Response:
            fields = await _form_fields(request)
            return await run_in_threadpool(self._change_wishlist, request, fields, record_change)

        router.add_api_route("/phone/wishlist", change_wishlist, methods=["POST"])

        async def save_coupon(request: Request) -> Response:
            fields = await _form_fields(request)
            return await run_in_threadpool(self._save_coupon, request, fields, record_change)

        router.add_api_route("/phone/coupons", save_coupon, methods=["POST"])
        return router

    def _product_page(self, request: Request, sku: str, lang: str | None = None, store: str | None = None) -> Response:
        language = self._language(request, lang)
        catalog = self.catalog.current()
        product = catalog.product(sku) if _SKU.match(sku) else None
        visit = self._visit(request)
        if product is None:
            texts = texts_for(language)
            return self._message(request, language, 404, texts["not_found_title"],
                                 texts["not_found_body"].format(sku=sku[:40]), visit)
        place = store_name(catalog, store)
        detail = product_detail(product, catalog, store if place else None, language, texts_for(language))
        return self._render(request, "product.html", language, title=detail.card.name, place=place or "",
                            product=detail, visit_open=visit is not None, cache="no-cache")

    def _offer_page(self, request: Request, offer_id: str, lang: str | None = None,
                    store: str | None = None) -> Response:
        language = self._language(request, lang)
        texts = texts_for(language)
        offer = self.store.offers.get(offer_id) if _OFFER_ID.match(offer_id) else None
        visit = self._visit(request)
        if offer is None:
            return self._message(request, language, 404, texts["offer_not_found_title"],
                                 texts["offer_not_found_body"].format(offer=offer_id[:48]), visit)
        catalog = self.catalog.current()
        now = datetime.fromtimestamp(self._clock(), UTC)
        page = offer_page(offer, catalog, store, now, language, texts)
        place = store_name(catalog, store) if store and offer.runs_in(store) else None
        shopper = self._shopper_of(visit)[0] if visit is not None else None
        coupon = self._coupon_state(offer, shopper)
        # An ended offer is gone for good (410); a scheduled one is a page that will change (200).
        return self._render(request, "offer.html", language, 410 if page.state is OfferState.ENDED else 200,
                            title=page.title, place=place or "", offer=page, coupon=coupon,
                            form_token=visit.form_token if visit is not None and coupon == "save" else "",
                            visit_open=visit is not None, cache="no-store" if visit is not None else "no-cache")

    def _open_link(self, request: Request, token: str, lang: str | None = None) -> Response:
        language = self._language(request, lang)
        if self._key is None or self.sessions is None:
            return self._link_refused(request, language, HandoffRefused(LinkRefusal.FORGED, "hand-off is off"))
        try:
            claims = self._key.open(token)
            held = self._visit(request)
            if held is not None and held.nonce == claims.nonce:  # this phone took it before: a refresh
                return RedirectResponse(f"{_ROOT}phone/visit?lang={language}", 303)
            secret, visit = self.sessions.exchange(claims)
        except HandoffRefused as refused:
            return self._link_refused(request, language, refused)
        self.stats.links_opened += 1
        log.info("a phone took the hand-off link of a visit at %s/%s", visit.store, visit.kiosk)
        response = RedirectResponse(f"{_ROOT}phone/visit?lang={language}", 303, {"Cache-Control": "no-store"})
        response.set_cookie(VISIT_COOKIE, secret, max_age=max(1, int(visit.ends_at - self._clock())), path="/",
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    def _visit_page(self, request: Request, lang: str | None = None, done: str | None = None,
                    sku: str | None = None) -> Response:
        language = self._language(request, lang)
        texts = texts_for(language)
        visit = self._visit(request)
        if visit is None or self.sessions is None:
            return self._message(request, language, 403, texts["no_visit_title"], texts["no_visit_body"], None)
        catalog = self.catalog.current()
        shopper, name, wishlist = self._shopper_of(visit)

        def cards(skus: list[str]) -> list[ProductCard]:
            return [product_card(product, catalog, visit.store, language, texts)
                    for item in skus if (product := catalog.product(item)) is not None]

        minutes = max(1, int(visit.ends_at - self._clock()) // 60)
        duration = (texts["duration_hours"].format(hours=minutes // 60, minutes=minutes % 60) if minutes >= 60
                    else texts["duration_minutes"].format(minutes=minutes))
        place = store_name(catalog, visit.store) or visit.store
        return self._render(request, "visit.html", language, title=texts["visit_title"].format(store=place),
                            place=place, shopper=shopper, name=name, taps=cards(self.sessions.taps(visit)),
                            wishlist=cards(wishlist), on_wishlist=set(wishlist), form_token=visit.form_token,
                            done=self._done(catalog, done, sku, language),
                            open_for=texts["open_for"].format(duration=duration), drop=("done", "sku"))

    def _change_wishlist(self, request: Request, fields: dict[str, str], record_change: RecordChange) -> Response:
        language = self._language(request, fields.get("lang"))
        texts = texts_for(language)
        visit = self._visit(request)
        if not self._from_phone_page(request, fields, visit, "wishlist") or visit is None:
            return self._message(request, language, 403, texts["refused_title"], texts["refused_body"], visit)
        sku, action = fields.get("sku", ""), fields.get("action", "")
        shopper, _, _ = self._shopper_of(visit)
        if shopper is None or action not in ("add", "remove") or not self.catalog.current().product(sku):
            return self._message(request, language, 400, texts["refused_title"], texts["refused_body"], visit)
        kind = EventKind.WISHLIST_ADD if action == "add" else EventKind.WISHLIST_REMOVE
        try:
            record_change(PHONE_CHANNEL, shopper, kind, visit.session, sku=sku)
        except ApiRefusal:  # erased meanwhile
            return self._message(request, language, 410, texts["refused_title"], texts["erased_body"], visit)
        self.stats.wishlist_changes += 1
        done = "added" if action == "add" else "removed"
        return RedirectResponse(f"{_ROOT}phone/visit?lang={language}&done={done}&sku={sku}", 303)

    def _save_coupon(self, request: Request, fields: dict[str, str], record_change: RecordChange) -> Response:
        """Save a members' offer to the card of the visit's shopper, as the coupon API's PUT saves one."""
        language = self._language(request, fields.get("lang"))
        texts = texts_for(language)
        visit = self._visit(request)
        if not self._from_phone_page(request, fields, visit, "coupon") or visit is None:
            return self._message(request, language, 403, texts["refused_title"], texts["refused_body"], visit)
        offer_id = fields.get("offer", "")
        offer = self.store.offers.get(offer_id) if _OFFER_ID.match(offer_id) else None
        shopper, _, _ = self._shopper_of(visit)
        if offer is None or shopper is None or self._coupon_state(offer, shopper) == "sign_in":
            return self._message(request, language, 400, texts["refused_title"], texts["coupon_refused_body"], visit)
        if self._coupon_state(offer, shopper) == "save":
            try:
                record_change(PHONE_CHANNEL, shopper, EventKind.COUPON_SAVE, visit.session, offer=offer.id)
            except ApiRefusal:  # erased meanwhile
                return self._message(request, language, 410, texts["refused_title"], texts["erased_body"], visit)
            if self._coupon_state(offer, shopper) != "saved":  # the store's own rules refused it
                return self._message(request, language, 409, texts["refused_title"], texts["coupon_refused_body"],
                                     visit)
            self.stats.coupons_saved += 1
        return RedirectResponse(f"{_ROOT}o/{offer.id}?lang={language}", 303)

    def _coupon_state(self, offer: Offer, shopper: str | None) -> str:
        """What the offer page offers a shopper: ``save`` (a members' offer running now, for a member),
        ``saved`` (on their card already), ``sign_in`` (a members' offer, no member here) or ``""``."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        if not offer.for_members() or offer.state(now) is not OfferState.RUNNING:
            return ""
        if shopper is None:
            return "sign_in"
        key = shopper_key(shopper)
        if any(coupon.offer_id == offer.id for coupon in self.store.coupons.of(key)):
            return "saved"
        return "save" if self.store.coupons.member(key) else "sign_in"

    @staticmethod
    def _done(catalog: Catalog, done: str | None, sku: str | None, language: str) -> str:
        """What the last wishlist form did, in words naming the product ("" when nothing or unknown)."""
        product = catalog.product(sku) if sku and done in ("added", "removed") else None
        return texts_for(language)[f"wishlist_{done}"].format(product=product.name.get(language)) if product else ""

    def _static(self, name: str) -> Response:
        if name not in _STATIC:
            return PlainTextResponse("not found", 404)
        return FileResponse(PHONE_DIR / name, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})

    def _image(self, name: str) -> Response:
        path = self.catalog.image(name) if _IMAGE_NAME.match(name) else None
        if path is None:
            return PlainTextResponse("not found", 404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    def _visit(self, request: Request) -> PhoneVisit | None:
        return self.sessions.visit(request.cookies.get(VISIT_COOKIE)) if self.sessions is not None else None

    def _shopper_of(self, visit: PhoneVisit) -> tuple[str | None, str | None, list[str]]:
        """The visit's shopper while their consent is in force (and not erased), the name they gave
        (the page greets by it, never by their id), and their wishlist."""
        if visit.shopper is None or self.store.is_erased(visit.shopper):
            return None, None, []
        profile = self.store.profile(visit.shopper, history_limit=0)
        if profile.consent is not ConsentStatus.GRANTED:
            return None, None, []
        return visit.shopper, profile.display_name, profile.wishlist

    def _from_phone_page(self, request: Request, fields: dict[str, str], visit: PhoneVisit | None,
                         form: str) -> bool:
        """Whether a form came from a page of this site carrying the form token of the phone's session
        (counted and logged when not)."""
        if visit is not None and self._from_this_site(request) and hmac.compare_digest(
                fields.get("form_token", "").encode(), visit.form_token.encode()):
            return True
        self.stats.forms_refused += 1
        log.warning("refused a %s form from %s (origin %r): not from this phone's own page", form,
                    request.client.host if request.client else "unknown", request.headers.get("origin"))
        return False

    def _from_this_site(self, request: Request) -> bool:
        """Whether a form came from a page of this site (its Origin, or Sec-Fetch-Site where there is none)."""
        origin = request.headers.get("origin")
        if origin is None:  # browsers of before Origin on every POST: the form token still decides
            return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin in (own, self._public_origin)

    def _link_refused(self, request: Request, language: str, refused: HandoffRefused) -> Response:
        counter = f"links_{refused.reason.value}"
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        log.warning("refused a hand-off link from %s: %s (%s)", request.client.host if request.client else "unknown",
                    refused.reason.value, refused)
        texts = texts_for(language)
        key = _REFUSAL_TEXTS[refused.reason]
        return self._message(request, language, _REFUSAL_STATUS[refused.reason], texts[f"{key}_title"],
                             texts[f"{key}_body"].format(minutes=self._link_ttl_s // 60), self._visit(request),
                             reason=refused.reason.value)

    def _message(self, request: Request, language: str, status: int, title: str, body: str,
                 visit: PhoneVisit | None, reason: str = "") -> Response:
        return self._render(request, "message.html", language, status, title=title, place="", body=body,
                            visit_open=visit is not None, reason=reason)

    def _render(self, request: Request, template: str, language: str, status: int = 200, *,
                cache: str = "no-store", drop: tuple[str, ...] = (), **context: Any) -> Response:
        other = other_language(language)
        query = {k: v for k, v in request.query_params.items() if k not in ("lang", *drop)}
        html = self._templates.get_template(template).render(
            t=texts_for(language), lang=language, root=_ROOT, switch_lang=other,
            switch_href="?" + urlencode({**query, "lang": other}), **context)
        return HTMLResponse(html, status, headers={"Cache-Control": cache, "Content-Language": language,
                                                   "Vary": "Accept-Language, Cookie"})

    @staticmethod
    def _language(request: Request, asked: str | None) -> str:
        return pick_language(asked, request.headers.get("accept-language"))


async def _form_fields(request: Request) -> dict[str, str]:
    """A posted form's fields (the last of each name); none from a form with more fields than ours."""
    try:
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=8)
    except ValueError:  # more fields than the form has: not this page's form (its token is missing)
        form = {}
    return {name: values[-1] for name, values in form.items()}
