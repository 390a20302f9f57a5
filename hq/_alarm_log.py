"""The alarm log: every alarm a kiosk or store raised, when, and when it cleared; where each
store's alarms go (a webhook or an e-mail address); and the notices owed to those routes.

Raising and clearing are idempotent across HQ processes: an open alarm holds a unique
``open_key`` (``store/kiosk/kind``) that clearing sets to NULL, so of several processes that
see the same problem one raises it and one clears it. The alarm and its notices (one per
route of its store, and of ``*``, every store) are written in one transaction: a notice is
owed exactly when its alarm changed, and ``_alarm_delivery`` sends it at least once.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._schema import metadata
from hq._webhook_queue import MAX_URL_LENGTH
from hq.exceptions import HqError

EVERY_STORE = "*"
_STORE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_ADDRESS = re.compile(r"[^@\s<>,;\"]{1,64}@[^@\s<>,;\"]{1,189}\.[^@\s<>,;\".]{1,63}")
_PROBLEM_LENGTH = 300
_MESSAGE_LENGTH = 300

alarms = sa.Table(
    "alarms", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),  # "" for the store's own (a request asked online)
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message", sa.String(_MESSAGE_LENGTH), nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("open_key", sa.String(200), nullable=True, unique=True),  # NULL once cleared
)
sa.Index("alarms_by_store", alarms.c.store, alarms.c.raised_at)
alarm_routes = sa.Table(
    "alarm_routes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("store", sa.String(64), nullable=False, index=True),  # or EVERY_STORE
    sa.Column("webhook_url", sa.String(MAX_URL_LENGTH), nullable=True),
    sa.Column("secret", sa.String(128), nullable=True),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
alarm_notices = sa.Table(
    "alarm_notices", metadata,
    sa.Column("alarm", sa.Integer, primary_key=True),
    sa.Column("route", sa.Integer, primary_key=True),
    sa.Column("event", sa.String(8), primary_key=True),  # raised | cleared
    sa.Column("due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_tried", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("problem", sa.String(_PROBLEM_LENGTH), nullable=True),
    sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
)
sa.Index("alarm_notices_due", alarm_notices.c.sent_at, alarm_notices.c.parked_at, alarm_notices.c.due)


class AlarmKind(enum.Enum):
    """What an alarm is about: the fleet's alerts that someone outside the dashboard must hear of."""

    OFFLINE = "offline"  # offline or silent, while its store is open
    READER_OFFLINE = "reader_offline"
    BACKLOG_HIGH = "backlog_high"
    UPDATE_FAILED = "update_failed"
    DISK_LOW = "disk_low"
    DISK_FULL = "disk_full"
    REQUEST_UNANSWERED = "request_unanswered"


class NoticeEvent(enum.Enum):
    """Which moment of an alarm a notice tells of."""

    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True)
class AlarmKey:
    """One alarm's identity while it is open: a store's kiosk ("" for the store itself) and its kind."""

    store: str
    kiosk: str
    kind: AlarmKind

    @property
    def open_key(self) -> str:
        return f"{self.store}/{self.kiosk}/{self.kind.value}"


@dataclass(frozen=True)
class Alarm:
    """One alarm as the log keeps it."""

    id: int
    key: AlarmKey
    message: str
    raised_at: datetime
    cleared_at: datetime | None


@dataclass(frozen=True)
class AlarmRoute:
    """Where a store's alarms go: a webhook (signed with ``secret``) or an e-mail address."""

    id: int
    store: str
    webhook_url: str | None
    secret: str | None
    email: str | None

    @property
    def target(self) -> str:
        return self.webhook_url or self.email or ""


@dataclass(frozen=True)
class Notice:
    """A notice owed to a route: its alarm, and how often it was tried."""

    alarm: Alarm
    route: AlarmRoute
    event: NoticeEvent
    attempts: int
    first_tried: datetime | None


@dataclass(frozen=True)
class NoticeState:
    """How one notice went: sent, parked (with why) or still waiting (with the last problem)."""

    route: int
    event: NoticeEvent
    attempts: int
    state: Literal["sent", "waiting", "parked"]
    problem: str | None


class AlarmLog:
    """The alarm tables (``ProfileStore.alarms``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # The alarms.

    def open_alarms(self) -> dict[AlarmKey, Alarm]:
        """Every alarm not yet cleared."""
        with self._engine.connect() as db:
            return {alarm.key: alarm for alarm in map(_alarm, db.execute(
                sa.select(alarms).where(alarms.c.open_key.is_not(None))))}

    def history(self, store: str | None = None, limit: int = 100, *, open_only: bool = False) -> list[Alarm]:
        """The newest alarms first, open and cleared (or open only), of one store or all."""
        query = sa.select(alarms).order_by(alarms.c.raised_at.desc(), alarms.c.id.desc()).limit(limit)
        if store is not None:
            query = query.where(alarms.c.store == store)
        if open_only:
            query = query.where(alarms.c.open_key.is_not(None))
        with self._engine.connect() as db:
            return [_alarm(row) for row in db.execute(query)]

    def raise_alarm(self, key: AlarmKey, message: str, at: datetime) -> Alarm | None:
        """Raise ``key`` with a notice to each of its store's routes; None if it is open already."""
        with self._engine.begin() as db:
            alarm_id = db.execute(self._insert(alarms).values(
                store=key.store, kiosk=key.kiosk, kind=key.kind.value, message=message[:_MESSAGE_LENGTH],
                raised_at=at, open_key=key.open_key).on_conflict_do_nothing(index_elements=["open_key"])
                .returning(alarms.c.id)).scalar()
            if alarm_id is None:
                return None
            self._owe(db, alarm_id, key.store, NoticeEvent.RAISED)
        return Alarm(alarm_id, key, message[:_MESSAGE_LENGTH], at, None)

    def clear(self, key: AlarmKey, at: datetime) -> bool:
        """Clear ``key`` if it is open, with a notice to each of its store's routes; whether it was."""
        with self._engine.begin() as db:
            alarm_id = db.execute(alarms.update().where(alarms.c.open_key == key.open_key)
                                  .values(cleared_at=at, open_key=None).returning(alarms.c.id)).scalar()
            if alarm_id is None:
                return False
            self._owe(db, alarm_id, key.store, NoticeEvent.CLEARED)
        return True

    def _owe(self, db: sa.Connection, alarm_id: int, store: str, event: NoticeEvent) -> None:
        """A notice of ``event`` to each of the store's routes, due at once (whatever moment the alarm names)."""
        routes = db.execute(sa.select(alarm_routes.c.id).where(alarm_routes.c.store.in_((store, EVERY_STORE))))
        now = datetime.now(UTC)
        rows = [{"alarm": alarm_id, "route": route, "event": event.value, "due": now, "attempts": 0}
                for route in routes.scalars()]
        if rows:
            db.execute(alarm_notices.insert(), rows)

    # The routes.

    def add_route(self, store: str, *, webhook_url: str | None = None, secret: str | None = None,
                  email: str | None = None) -> AlarmRoute:
        """Send ``store``'s alarms (EVERY_STORE: every store's) to a webhook or an e-mail address."""
        if (webhook_url is None) == (email is None) or (webhook_url is not None and not secret):
            raise HqError("an alarm route is a webhook with its secret, or an e-mail address")
        if store != EVERY_STORE and not _STORE_ID.fullmatch(store):
            raise HqError(f"{store[:70]!r} is not a store id (a-z, 0-9 and -) nor {EVERY_STORE} for every store")
        if email is not None:
            check_address(email)
        with self._engine.begin() as db:
            route_id = db.execute(alarm_routes.insert().values(
                store=store, webhook_url=webhook_url, secret=secret, email=email, created_at=datetime.now(UTC))
                .returning(alarm_routes.c.id)).scalar_one()
        return AlarmRoute(route_id, store, webhook_url, secret, email)

    def routes(self, store: str | None = None) -> list[AlarmRoute]:
        """Every route (or one store's, those for every store included), by id."""
        query = sa.select(alarm_routes).order_by(alarm_routes.c.id)
        if store is not None:
            query = query.where(alarm_routes.c.store.in_((store, EVERY_STORE)))
        with self._engine.connect() as db:
            return [_route(row) for row in db.execute(query)]

    def remove_route(self, route_id: int) -> bool:
        """Stop sending to a route; the notices it was owed are dropped. Whether it existed."""
        with self._engine.begin() as db:
            db.execute(alarm_notices.delete().where(alarm_notices.c.route == route_id))
            return bool(db.execute(alarm_routes.delete().where(alarm_routes.c.id == route_id)).rowcount)

    # The notices, for ``_alarm_delivery``.

    def claim_due(self, now: datetime, hold_s: float, limit: int = 20) -> list[Notice]:
        """Notices due now, each claimed for ``hold_s`` so that no other HQ process sends it meanwhile.

        A cleared notice waits until its raised notice to the same route is sent or parked:
        a receiver hears of an alarm before it hears that it cleared.
        """
        n, earlier = alarm_notices, alarm_notices.alias("earlier")
        raised_pending = sa.exists().where(
            earlier.c.alarm == n.c.alarm, earlier.c.route == n.c.route,
            earlier.c.event == NoticeEvent.RAISED.value, earlier.c.sent_at.is_(None), earlier.c.parked_at.is_(None))
        pending = (n.c.sent_at.is_(None), n.c.parked_at.is_(None), n.c.due <= now,
                   sa.or_(n.c.claimed_until.is_(None), n.c.claimed_until < now))
        query = (sa.select(n, alarms, alarm_routes).join(alarms, alarms.c.id == n.c.alarm)
                 .join(alarm_routes, alarm_routes.c.id == n.c.route)
                 .where(*pending, sa.or_(n.c.event == NoticeEvent.RAISED.value, sa.not_(raised_pending)))
                 .order_by(n.c.due, n.c.alarm).limit(limit))
        until = now + timedelta(seconds=hold_s)
        claimed = []
        with self._engine.begin() as db:
            for row in db.execute(query).all():
                this = (n.c.alarm == row.alarm, n.c.route == row.route, n.c.event == row.event)
                taken = db.execute(n.update().where(*this, *pending).values(claimed_until=until)).rowcount
                if taken:  # another process may have claimed it between the read and here
                    claimed.append(Notice(_alarm(row), _route(row), NoticeEvent(row.event),
                                          row.attempts, _utc(row.first_tried) if row.first_tried else None))
        return claimed

    def sent(self, notice: Notice, at: datetime) -> None:
        """The notice reached its route."""
        self._settle(notice, at, sent_at=at, problem=None)

    def retry(self, notice: Notice, at: datetime, due: datetime, problem: str) -> None:
        """The notice did not reach its route; try again at ``due``."""
        self._settle(notice, at, due=due, problem=problem[:_PROBLEM_LENGTH])

    def park(self, notice: Notice, at: datetime, problem: str) -> None:
        """The notice will not reach its route: kept with why, not tried again."""
        self._settle(notice, at, parked_at=at, problem=problem[:_PROBLEM_LENGTH])

    def retry_now(self, alarm_id: int) -> int:
        """Send an alarm's notices that are parked or waiting again now; how many there were."""
        n = alarm_notices
        with self._engine.begin() as db:
            return int(db.execute(n.update().where(n.c.alarm == alarm_id, n.c.sent_at.is_(None)).values(
                due=datetime.now(UTC), parked_at=None, claimed_until=None)).rowcount)

    def notices(self, alarm_id: int) -> list[NoticeState]:
        """How an alarm's notices went, by route, raised before cleared."""
        return self.notices_of([alarm_id]).get(alarm_id, [])

    def notices_of(self, alarm_ids: Sequence[int]) -> dict[int, list[NoticeState]]:
        """How each of these alarms' notices went, in one read (an alarm with none is left out)."""
        n = alarm_notices
        found: dict[int, list[NoticeState]] = {}
        with self._engine.connect() as db:
            for row in db.execute(sa.select(n).where(n.c.alarm.in_(alarm_ids)).order_by(n.c.alarm, n.c.route,
                                                                                        n.c.event.desc())):
                found.setdefault(row.alarm, []).append(NoticeState(
                    row.route, NoticeEvent(row.event), row.attempts,
                    "sent" if row.sent_at else "parked" if row.parked_at else "waiting", row.problem))
        return found

    def _settle(self, notice: Notice, at: datetime, **values: object) -> None:
        n = alarm_notices
        with self._engine.begin() as db:
            db.execute(n.update().where(n.c.alarm == notice.alarm.id, n.c.route == notice.route.id,
                                        n.c.event == notice.event.value).values(
                attempts=n.c.attempts + 1, first_tried=sa.func.coalesce(n.c.first_tried, at), claimed_until=None,
                **values))


def check_address(address: str) -> str:
    """``address`` if it is one e-mail address (name@host.tld, no display name, no list), else HqError."""
    if not address.isprintable() or not _ADDRESS.fullmatch(address):
        raise HqError(f"{address[:80]!r} is not an e-mail address (name@host.tld, one only)")
    return address


def _alarm(row: sa.Row[Any]) -> Alarm:
    m = row._mapping
    cleared = m[alarms.c.cleared_at]
    return Alarm(m[alarms.c.id], AlarmKey(m[alarms.c.store], m[alarms.c.kiosk], AlarmKind(m[alarms.c.kind])),
                 m[alarms.c.message], _utc(m[alarms.c.raised_at]), _utc(cleared) if cleared else None)


def _route(row: sa.Row[Any]) -> AlarmRoute:
    m = row._mapping
    return AlarmRoute(m[alarm_routes.c.id], m[alarm_routes.c.store], m[alarm_routes.c.webhook_url],
                      m[alarm_routes.c.secret], m[alarm_routes.c.email])


def _utc(moment: datetime) -> datetime:
    """SQLite hands times back without their zone: they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
