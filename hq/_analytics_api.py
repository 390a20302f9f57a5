"""HQ's analytics over HTTP: ``GET /fleet/api/analytics/{top-products|hourly|funnel|lift|uptime}``,
for the dashboard's analytics page and for scripts, as JSON or (``format=csv``) as the table.

Who may ask: the dashboard's sign-in or an HQ key (every store, or ``store=`` one), and a
store key, which sees only its own store (its own by default; another is refused with 403
``other_store``). A sales channel's key is refused. A range that is not one (``from`` after
``to``, not dates, over a year) is answered 422 ``invalid_range`` and counted.
"""

import csv
import io
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, Security
from fastapi.security import APIKeyHeader

from hq._analytics import Analytics
from hq._analytics_models import Funnel, Hourly, Lift, TopProducts, Uptime, _Answer
from hq._analytics_queries import DEFAULT_TOP, AnalyticsQueries, AnalyticsRange, Products, RangeRefused
from hq._api_models import error_responses
from hq._auth import KeyRole
from hq._guard import authenticated_grant
from hq._phone_views import CatalogFile
from hq.exceptions import ApiRefusal
from kiosk_protocol import Catalog

log = logging.getLogger(__name__)

_STORE = r"^[a-z0-9][a-z0-9-]{0,63}$"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula
MAX_TOP = 500

_DATE = {"format": "date"}  # what the document says; the route says what is wrong with a text that is not one
First = Annotated[str | None, Query(alias="from", max_length=40, json_schema_extra=_DATE,
                                    description="First local day (YYYY-MM-DD); 29 days before `to` by default.")]
Last = Annotated[str | None, Query(alias="to", max_length=40, json_schema_extra=_DATE,
                                   description="Last local day, included; today by default.")]
StoreQuery = Annotated[str | None, Query(pattern=_STORE, description="One store; a store key's own by default.")]
Form = Annotated[Literal["json", "csv"], Query(alias="format", description="`csv`: the table as CSV.")]


@dataclass
class AnalyticsStats:
    """What the analytics routes answered and refused (``app.state.analytics``)."""

    answered: Counter[str] = field(default_factory=Counter)
    invalid_ranges: int = 0
    other_store: int = 0
    not_allowed: int = 0


class CatalogFacts:
    """What analytics takes from HQ's catalog: its stores (time zones, opening hours) go to the
    roll-ups whenever the catalog changes, and its products' names and categories to the answers."""

    def __init__(self, catalog: CatalogFile | None, analytics: Analytics) -> None:
        self._catalog, self._analytics = catalog, analytics
        self._seen: Catalog | None = None
        self._products: Products = {}
        self.refresh()

    def refresh(self) -> None:
        """Take a changed catalog's stores and products (read again only when its file changed)."""
        current = self._catalog.current() if self._catalog is not None else None
        if current is not None and current is not self._seen:
            self._analytics.know_stores(current.stores)
            self._products = {p.sku: (p.name.es, p.category) for p in current.products}
            self._seen = current

    def products(self) -> Products:
        """Each SKU's name (the catalog's first language) and category."""
        self.refresh()
        return self._products


def analytics_router(queries: AnalyticsQueries, api_key: APIKeyHeader, stats: AnalyticsStats,
                     facts: CatalogFacts | None = None) -> APIRouter:
    """The analytics routes under ``/fleet/api/analytics``."""
    router = APIRouter(prefix="/fleet/api/analytics", tags=["analytics"])
    errors = error_responses(e401="Not signed in", e403="`other_store`: a store key of another store; "
                             "`forbidden`: neither an HQ key nor a store key",
                             e422="`invalid_range`: from/to not dates, from after to, or over a year")
    csv_answer: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/csv": {}}, "description": "The answer (CSV with `format=csv`)."}}

    def span_of(request: Request, first: str | None, last: str | None, store: str | None) -> AnalyticsRange:
        grant = authenticated_grant(request)  # the key itself was checked by RequestGuard
        if grant.role is KeyRole.STORE:
            if store is not None and store != grant.store:
                stats.other_store += 1
                raise ApiRefusal(403, "other_store", f"this key is {grant.store!r}'s staff, not {store!r}'s")
            store = grant.store
        elif grant.role is not KeyRole.HQ:
            stats.not_allowed += 1
            raise ApiRefusal(403, "forbidden", "analytics are for HQ and store keys")
        try:
            return AnalyticsRange.parse(first, last, store)
        except RangeRefused as exc:
            stats.invalid_ranges += 1
            log.info("refused an analytics range: %s", exc)
            raise ApiRefusal(422, "invalid_range", str(exc)) from exc

    def answered(name: str, answer: _Answer, form: str) -> Any:
        stats.answered[name] += 1
        if form != "csv":
            return answer
        return Response(answer_csv(answer), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}-{answer.from_}-{answer.to}.csv"'})

    def route(name: str, model: type[_Answer], ask: Callable[..., _Answer], summary: str) -> None:
        @router.get(f"/{name}", response_model=model, responses={**errors, **csv_answer}, summary=summary,
                    name=f"analytics_{name.replace('-', '_')}")
        def get(request: Request, first: First = None, last: Last = None, store: StoreQuery = None,
                form: Form = "json", key: Annotated[str | None, Security(api_key)] = None) -> Any:
            return answered(name, ask(span_of(request, first, last, store)), form)

    @router.get("/top-products", response_model=TopProducts, responses={**errors, **csv_answer},
                summary="The products tapped most, and what came of them")
    def top_products(request: Request, first: First = None, last: Last = None, store: StoreQuery = None,
                     limit: Annotated[int, Query(ge=1, le=MAX_TOP)] = DEFAULT_TOP, form: Form = "json",
                     key: Annotated[str | None, Security(api_key)] = None) -> Any:
        if facts is not None:
            facts.refresh()
        return answered("top-products", queries.top_products(span_of(request, first, last, store), limit), form)

    route("hourly", Hourly, queries.hourly, "Taps and visits by hour of the stores' local day")
    route("funnel", Funnel, queries.funnel, "Visits: a product looked at → a suggestion → kept → ordered")
    route("lift", Lift, queries.lift, "Conversion of visits that touched a suggestion against those that did not")
    route("uptime", Uptime, _with_facts(queries.uptime, facts), "Each kiosk's share of its store's opening hours "
          "online")
    return router


def _with_facts(ask: Callable[[AnalyticsRange], Uptime], facts: CatalogFacts | None) -> Callable[..., Uptime]:
    def asked(span: AnalyticsRange) -> Uptime:
        if facts is not None:
            facts.refresh()  # a store's new opening hours count from now on
        return ask(span)

    return asked


def answer_csv(answer: _Answer) -> str:
    """An answer's table as CSV; a text a spreadsheet would take for a formula is quoted with ``'``."""
    header, rows = _table(answer)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return out.getvalue()


def _table(answer: _Answer) -> tuple[list[str], list[list[Any]]]:
    if isinstance(answer, TopProducts):
        columns = ["sku", "name", "category", "taps", "visits", "wishlisted", "reserved", "ordered", "conversion"]
        return columns, [[getattr(row, c) for c in columns] for row in answer.rows]
    if isinstance(answer, Hourly):
        return ["hour", "taps", "visits"], [[r.hour, r.taps, r.visits] for r in answer.rows]
    if isinstance(answer, Funnel):
        return ["step", "visits", "share"], [[s.step, s.visits, s.share] for s in answer.steps]
    if isinstance(answer, Lift):
        groups = (("with_suggestion", answer.with_suggestion), ("without_suggestion", answer.without_suggestion))
        rows: list[list[Any]] = [[name, g.visits, g.converted, g.conversion, "", "", "", ""] for name, g in groups]
        rows[0][4:] = ["" if answer.lift is None else answer.lift, answer.suggestions_shown, answer.suggestion_taps,
                       answer.click_through]  # the answer's own figures, on the first row
        return ["group", "visits", "converted", "conversion", "lift", "suggestions_shown", "suggestion_taps",
                "click_through"], rows
    if isinstance(answer, Uptime):
        columns = ["store", "kiosk", "open_hours", "online_hours", "uptime"]
        return columns, [[getattr(row, c) for c in columns] for row in answer.rows]
    raise TypeError(f"no table for {type(answer).__name__}")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
