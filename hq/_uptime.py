"""Kiosk uptime: when each kiosk was online, kept as spans from its statuses and last wills,
and how much of its store's opening hours those spans cover.

A kiosk says it is online every 30 s and offline when it stops; its last will says offline
when it dies. A span runs from the first online status HQ hears to the last one before the
kiosk went offline or fell silent (no status for ``SILENT_AFTER_S``): a kiosk that went
quiet is down from its last heartbeat on. Every HQ process's fleet view may write the
same spans: at reading time they are merged, so none is counted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._schema import metadata
from kiosk_protocol import LinkState

SILENT_AFTER_S = 90.0  # three missed heartbeats: the kiosk is down since the last one

kiosk_spans = sa.Table(
    "analytics_kiosk_spans", metadata,
    sa.Column("store", sa.String(64), primary_key=True),
    sa.Column("kiosk", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended", sa.Boolean, nullable=False),
)
sa.Index("analytics_kiosk_spans_open", kiosk_spans.c.store, kiosk_spans.c.kiosk, kiosk_spans.c.ended)

Interval = tuple[datetime, datetime]


class UptimeLog:
    """The kiosks' online spans (``ProfileStore.uptime``), written from the fleet view's changes."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._lock = threading.Lock()  # one fleet view's changes come from its threads one at a time

    def heard(self, store: str, kiosk: str, state: LinkState, seen: datetime) -> None:
        """A kiosk's status: online (last seen at ``seen``) or offline (it was last up at ``seen``)."""
        seen = _utc(seen)
        with self._lock, self._engine.begin() as db:
            span = db.execute(sa.select(kiosk_spans.c.started_at, kiosk_spans.c.last_seen).where(
                kiosk_spans.c.store == store, kiosk_spans.c.kiosk == kiosk, sa.not_(kiosk_spans.c.ended))
                .order_by(kiosk_spans.c.started_at.desc()).limit(1)).first()
            this = (kiosk_spans.c.store == store, kiosk_spans.c.kiosk == kiosk)
            if span is not None:
                last = _utc(span.last_seen)
                silent = (seen - last).total_seconds() > SILENT_AFTER_S
                db.execute(kiosk_spans.update().where(*this, kiosk_spans.c.started_at == span.started_at).values(
                    last_seen=max(last, seen) if not silent else last,
                    ended=silent or state is LinkState.OFFLINE))
                if not silent or state is LinkState.OFFLINE:
                    return
            if state is LinkState.ONLINE:
                db.execute(self._insert(kiosk_spans).values(store=store, kiosk=kiosk, started_at=seen, last_seen=seen,
                                                            ended=False).on_conflict_do_nothing())

    def follow(self, change: object) -> None:
        """A fleet view listener (``FleetView.listen``): every kiosk status it sees."""
        status, seen = getattr(change, "status", None), getattr(change, "last_seen", None)
        if status is not None and isinstance(seen, datetime):
            self.heard(status.store, status.kiosk, status.state, seen)

    def kiosks(self, stores: Sequence[str] | None, end: datetime) -> list[tuple[str, str]]:
        """Every kiosk of ``stores`` (all: None) heard of before ``end``, as (store, kiosk), sorted."""
        where = [kiosk_spans.c.started_at < end]
        if stores is not None:
            where.append(kiosk_spans.c.store.in_(stores))
        query = sa.select(kiosk_spans.c.store, kiosk_spans.c.kiosk).where(*where).distinct()
        with self._engine.connect() as db:
            return sorted((store, kiosk) for store, kiosk in db.execute(query))

    def online_seconds(self, opening: Mapping[str, Sequence[Interval]]) -> dict[tuple[str, str], float]:
        """How many seconds of its store's ``opening`` intervals (disjoint, by store) each kiosk of
        those stores was online, its spans merged; kiosks online in none of them are left out.

        PostgreSQL merges and intersects the spans itself (multiranges), so a fleet's month of
        spans never leaves the database; SQLite's are swept here.
        """
        intervals = [(store, start, end) for store, spells in sorted(opening.items()) for start, end in spells]
        if not intervals:
            return {}
        bounds = {"start": min(start for _, start, _ in intervals), "end": max(end for _, _, end in intervals)}
        with self._engine.connect() as db:
            if db.dialect.name == "postgresql":  # one JSON text: far quicker to send than arrays of moments
                hours = json.dumps([{"store": store, "opens": start.timestamp(), "closes": end.timestamp()}
                                    for store, start, end in intervals])
                found = db.execute(_ONLINE_IN_OPENING, {**bounds, "opening": hours})
                return {(store, kiosk): float(seconds) for store, kiosk, seconds in found}
            spans: dict[tuple[str, str], list[Interval]] = defaultdict(list)
            for store, kiosk, started_at, last_seen in db.execute(sa.select(
                    kiosk_spans.c.store, kiosk_spans.c.kiosk, kiosk_spans.c.started_at, kiosk_spans.c.last_seen)
                    .where(kiosk_spans.c.store.in_(sorted(opening)), kiosk_spans.c.started_at < bounds["end"],
                           kiosk_spans.c.last_seen > bounds["start"])):
                spans[(store, kiosk)].append((_utc(started_at), _utc(last_seen)))
        return {kiosk: covered_seconds(opening[kiosk[0]], online) for kiosk, online in spans.items()}


# Each kiosk's spans as one multirange (overlaps merged) times its store's opening hours.
_ONLINE_IN_OPENING = sa.text(
    "WITH opening AS (SELECT store, range_agg(tstzrange(to_timestamp(opens), to_timestamp(closes))) AS hours "
    "FROM jsonb_to_recordset(CAST(:opening AS jsonb)) AS o(store text, opens float8, closes float8) GROUP BY store), "
    "online AS (SELECT store, kiosk, range_agg(tstzrange(started_at, last_seen)) AS up FROM analytics_kiosk_spans "
    "WHERE store IN (SELECT store FROM opening) AND started_at < :end AND last_seen > :start GROUP BY store, kiosk) "
    "SELECT online.store, online.kiosk, coalesce((SELECT extract(epoch FROM sum(upper(r) - lower(r))) "
    "FROM unnest(online.up * opening.hours) AS r), 0) FROM online JOIN opening USING (store)")


def opening_intervals(spells_on: Callable[[dt.date], Iterable[tuple[dt.time, dt.time]]], zone: ZoneInfo,
                      first: dt.date, last: dt.date, until: datetime) -> list[Interval]:
    """A store's opening hours from local day ``first`` to ``last`` (both included), in UTC, none past ``until``."""
    found: list[Interval] = []
    day = first
    while day <= last:
        for opens, closes in spells_on(day):
            start = datetime.combine(day, opens, zone)
            end = datetime.combine(day + timedelta(days=1), dt.time.min, zone) if closes == dt.time.max \
                else datetime.combine(day, closes, zone)
            start, end = start.astimezone(UTC), min(end.astimezone(UTC), until)
            if start < end:
                found.append((start, end))
        day += timedelta(days=1)
    return found


def covered_seconds(within: Sequence[Interval], spans: Iterable[Interval]) -> float:
    """How many seconds of ``within`` (disjoint intervals) the union of ``spans`` covers.

    One sweep over both, each sorted: a kiosk's month is hundreds of spans and opening hours.
    """
    merged: list[list[datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    total, first = 0.0, 0
    for open_start, open_end in sorted(within):
        while first < len(merged) and merged[first][1] <= open_start:
            first += 1  # ends before this opening, so before every later one too
        for start, end in merged[first:]:
            if start >= open_end:
                break
            total += (min(end, open_end) - max(start, open_start)).total_seconds()
    return total


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
