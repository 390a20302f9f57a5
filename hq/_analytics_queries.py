"""What HQ's analytics answer, read from the roll-ups (``_analytics``) and the kiosks' online
spans (``_uptime``): one query per table of ``_analytics_models``, none over the events.

Days are local: each store's roll-ups are kept by its own local day, so a range of dates
means those days in every store's own time zone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hq._analytics import REACHED, analytics_stores, offer_days, product_days, store_days, store_hours
from hq._analytics_models import (
    Funnel,
    FunnelStep,
    HourCount,
    Hourly,
    KioskUptime,
    Lift,
    TopProduct,
    TopProducts,
    Uptime,
    VisitGroup,
)
from hq._uptime import UptimeLog, opening_intervals

LONGEST_RANGE_DAYS = 366
DEFAULT_TOP = 20
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # as ``date.weekday()`` counts, as the catalog names them
FUNNEL_STEPS = ("tap", "suggestion", "wishlist_or_reservation", "order")
Products = Mapping[str, tuple[str, str]]  # sku -> (name, category), from HQ's catalog


@dataclass(frozen=True)
class OfferCounts:
    """What one offer earned over a range: its sign tapped, saved as a coupon, redeemed."""

    offer: str
    taps: int
    saves: int
    redemptions: int


class RangeRefused(ValueError):
    """A date range analytics does not answer: not dates, the wrong way round, or too long."""


@dataclass(frozen=True)
class AnalyticsRange:
    """Local days ``first`` to ``last`` (both included) of ``store`` (None: every store)."""

    first: date
    last: date
    store: str | None = None

    @classmethod
    def parse(cls, first: str | None, last: str | None, store: str | None = None,
              today: date | None = None) -> AnalyticsRange:
        """The range of ``from``/``to`` as a caller gives them (ISO dates); ``to`` defaults to today,
        ``from`` to 29 days before ``to``.

        Raises:
            RangeRefused: not ISO dates, ``from`` after ``to``, or longer than ``LONGEST_RANGE_DAYS``.
        """
        end = _date("to", last) if last is not None else (today or datetime.now(UTC).date())
        start = _date("from", first) if first is not None else end - timedelta(days=29)
        if start > end:
            raise RangeRefused(f"from ({start}) is after to ({end})")
        if (end - start).days + 1 > LONGEST_RANGE_DAYS:
            raise RangeRefused(f"the range is {(end - start).days + 1} days; at most {LONGEST_RANGE_DAYS}")
        return cls(start, end, store)

    def answer_fields(self) -> dict[str, Any]:
        """The fields every answer starts with."""
        return {"from": self.first, "to": self.last, "store": self.store}


def _date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise RangeRefused(f"{name} is not a date (YYYY-MM-DD): {text[:40]!r}") from exc


class AnalyticsQueries:
    """The analytics answers (``GET /fleet/api/analytics/...``), from ``engine``'s roll-ups.

    Args:
        engine: HQ's profile database (``ProfileStore.engine``).
        uptime: the kiosks' online spans (``ProfileStore.uptime``).
        products: each SKU's name and category in HQ's catalog (none: names and categories are '').
        clock: now, beyond which no opening hour counts in uptime.
    """

    def __init__(self, engine: sa.Engine, uptime: UptimeLog, products: Callable[[], Products] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._uptime = uptime
        self._products = products or (lambda: {})
        self._clock = clock

    def top_products(self, span: AnalyticsRange, limit: int = DEFAULT_TOP) -> TopProducts:
        """The products tapped most over the range (ties by SKU), with what came of them."""
        t = product_days.c
        taps = _sum(t.taps)
        query = (sa.select(t.sku, taps, _sum(t.visits), _sum(t.wishlisted), _sum(t.reserved), _sum(t.ordered))
                 .where(*_within(product_days, span)).group_by(t.sku).order_by(taps.desc(), t.sku).limit(limit))
        with self._engine.connect() as db:
            if db.dialect.name == "postgresql":  # every store's month of products hashed in memory, not sorted on disk
                db.execute(sa.text("SET LOCAL work_mem = '64MB'"))
            rows = db.execute(query).all()
        products = self._products()
        return TopProducts(**span.answer_fields(), rows=[
            TopProduct(sku=sku, name=products.get(sku, ("", ""))[0], category=products.get(sku, ("", ""))[1],
                       taps=int(tapped), visits=int(seen), wishlisted=int(wished), reserved=int(held),
                       ordered=int(bought), conversion=_share(int(bought), int(seen)))
            for sku, tapped, seen, wished, held, bought in rows])

    def hourly(self, span: AnalyticsRange) -> Hourly:
        """Taps and visits by hour of the stores' local day, summed over the range (all 24 hours)."""
        t = store_hours.c
        query = (sa.select(t.hour, _sum(t.taps), _sum(t.visits))
                 .where(*_within(store_hours, span)).group_by(t.hour))
        with self._engine.connect() as db:
            found = {int(hour): (int(taps), int(visits)) for hour, taps, visits in db.execute(query)}
        return Hourly(**span.answer_fields(), rows=[
            HourCount(hour=hour, taps=found.get(hour, (0, 0))[0], visits=found.get(hour, (0, 0))[1])
            for hour in range(24)])

    def funnel(self, span: AnalyticsRange) -> Funnel:
        """Visits that looked at a product, then touched a suggestion, then kept something, then ordered."""
        sums = self._store_sums(span, REACHED)
        first = sums["reached_tap"]
        return Funnel(**span.answer_fields(), steps=[
            FunnelStep(step=step, visits=sums[column], share=_share(sums[column], first))
            for step, column in zip(FUNNEL_STEPS, REACHED, strict=True)])

    def lift(self, span: AnalyticsRange) -> Lift:
        """How visits that touched a suggestion converted against those that did not, and how often
        a suggestion shown was touched."""
        sums = self._store_sums(span, ("visits", "suggested", "converted", "suggested_converted", "shown",
                                       "suggestion_taps"))
        with_ = VisitGroup(visits=sums["suggested"], converted=sums["suggested_converted"],
                           conversion=_share(sums["suggested_converted"], sums["suggested"]))
        without_visits = sums["visits"] - sums["suggested"]
        without_converted = sums["converted"] - sums["suggested_converted"]
        without = VisitGroup(visits=without_visits, converted=without_converted,
                             conversion=_share(without_converted, without_visits))
        return Lift(**span.answer_fields(), with_suggestion=with_, without_suggestion=without,
                    lift=with_.conversion / without.conversion if without.conversion else None,
                    suggestions_shown=sums["shown"], suggestion_taps=sums["suggestion_taps"],
                    click_through=_share(sums["suggestion_taps"], sums["shown"]))

    def uptime(self, span: AnalyticsRange) -> Uptime:
        """Each kiosk's share of its store's opening hours (up to now) that it was online."""
        now = self._clock()
        kiosks = self._uptime.kiosks([span.store] if span.store else None, now)
        stores = sorted({store for store, _ in kiosks})
        hours = self._stores(stores)
        opening = {store: hours.get(store, _AROUND_THE_CLOCK).opening(span, now) for store in stores}
        online = self._uptime.online_seconds(opening)
        rows = []
        for store, kiosk in kiosks:
            open_s = sum((end - start).total_seconds() for start, end in opening[store])
            online_s = online.get((store, kiosk), 0.0)
            rows.append(KioskUptime(store=store, kiosk=kiosk, open_hours=round(open_s / 3600, 3),
                                    online_hours=round(online_s / 3600, 3), uptime=_share(online_s, open_s)))
        return Uptime(**span.answer_fields(), rows=rows)

    def offers(self, span: AnalyticsRange) -> list[OfferCounts]:
        """Each offer's sign taps, coupon saves and redemptions over the range (by offer id).

        With a store, the web shop's and the app's saves and redemptions (store ``online``) are not in it.
        """
        t = offer_days.c
        query = (sa.select(t.offer, _sum(t.taps), _sum(t.saves), _sum(t.redemptions))
                 .where(*_within(offer_days, span)).group_by(t.offer).order_by(t.offer))
        with self._engine.connect() as db:
            return [OfferCounts(offer, int(taps), int(saves), int(redeemed))
                    for offer, taps, saves, redeemed in db.execute(query)]

    def _store_sums(self, span: AnalyticsRange, columns: Sequence[str]) -> dict[str, int]:
        query = sa.select(*(sa.func.coalesce(_sum(store_days.c[c]), 0) for c in columns)).where(
            *_within(store_days, span))
        with self._engine.connect() as db:
            row = db.execute(query).one()
        return {column: int(value) for column, value in zip(columns, row, strict=True)}

    def _stores(self, only: Sequence[str] | None) -> dict[str, _StoreHours]:
        query = sa.select(analytics_stores.c.store, analytics_stores.c.time_zone, analytics_stores.c.opening_hours)
        if only is not None:
            query = query.where(analytics_stores.c.store.in_(only))
        with self._engine.connect() as db:
            return {store: _StoreHours(ZoneInfo(zone), json.loads(hours) if hours else None)
                    for store, zone, hours in db.execute(query)}


@dataclass(frozen=True)
class _StoreHours:
    zone: ZoneInfo
    hours: Mapping[str, list[Mapping[str, str]]] | None  # as ``analytics_stores`` keeps them

    def opening(self, span: AnalyticsRange, until: datetime) -> list[tuple[datetime, datetime]]:
        """The store's opening hours over ``span``'s days, in UTC, none past ``until``."""
        return opening_intervals(self.spells_on, self.zone, span.first, span.last, until)

    def spells_on(self, day: date) -> list[tuple[dt.time, dt.time]]:
        if self.hours is None:
            return [(dt.time.min, dt.time.max)]
        return [(dt.time.fromisoformat(s["opens"]), dt.time.fromisoformat(s["closes"]))
                for s in self.hours.get(WEEKDAYS[day.weekday()], [])]


_AROUND_THE_CLOCK = _StoreHours(ZoneInfo("UTC"), None)  # a store HQ's catalog does not list


def _within(table: sa.Table, span: AnalyticsRange) -> list[sa.ColumnElement[bool]]:
    where = [table.c.day >= span.first, table.c.day <= span.last]
    if span.store is not None:
        where.append(table.c.store == span.store)
    return where


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A counter's sum over days: a day's count fits an integer, whose sum PostgreSQL adds far faster
    than a bigint's (which it adds as numeric)."""
    return sa.func.sum(sa.cast(column, sa.Integer))


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
