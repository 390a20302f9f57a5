"""Where each shopper stands: the kiosk they are signed in at now, for the live push of their
profile's changes (``_pusher``); and how far each pusher has pushed.

HQ learns of a visit at the profile pull, once the card is checked (``_responder``), and
keeps one row per shopper: *shopper S is at kiosk K of store X, in visit V, since T*.

- **One kiosk at a time.** A shopper stands at one kiosk; a sign-in at another moves
  them there, and the first kiosk is pushed nothing more (its visit ends by its own idle
  timeout). A copied card tapped elsewhere thus takes the push away rather than share it.
- **One shopper per kiosk.** A kiosk has one visit: a sign-in there ends whatever stay
  the kiosk had.
- **It ends** when the kiosk says the visit ended (sign-out, idle wipe, another card,
  staff mode, a lock), when the kiosk goes offline (its status or last will), at an
  erase, and, as a safety net for a word that never came, ``bound_s`` after it began.

Its tables join the store's metadata, so they are created with the store's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._schema import metadata

# Far longer than a visit stays at one kiosk (each minute without a touch ends it there),
# so a lost "visit ended" costs at most this long of pushes the kiosk drops.
PRESENCE_BOUND_S = 15 * 60.0

presence = sa.Table(
    "presence", metadata,
    sa.Column("shopper", sa.String(128), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("session", sa.String(36), nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    sa.Column("until", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Index("presence_kiosk", "store", "kiosk"),
)
# The profile version each stay's kiosk asked in (a table of its own: the presence table
# predates it). No row: version 2, the first that had stays.
stay_versions = sa.Table(
    "stay_versions", metadata,
    sa.Column("shopper", sa.String(128), primary_key=True),
    sa.Column("session", sa.String(36), nullable=False),
    sa.Column("v", sa.Integer, nullable=False),
)
# The last change of the log each pusher has dealt with, by pusher name.
push_cursors = sa.Table(
    "push_cursors", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("cursor", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class Stay:
    """A shopper signed in at a kiosk: the visit HQ pushes their profile's changes to."""

    shopper: str
    store: str
    kiosk: str
    session: str
    since: datetime
    v: int = 2  # the version of the profile request that began it: what the kiosk reads


class Presence:
    """Who stands at which kiosk, in HQ's database."""

    def __init__(self, engine: sa.Engine, bound_s: float = PRESENCE_BOUND_S,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.bound_s = bound_s
        self._engine = engine
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def arrive(self, shopper: str, store: str, kiosk: str, session: str, v: int = 2) -> None:
        """``shopper`` signed in at ``store``/``kiosk`` in visit ``session``: they stand there now, and nowhere else.

        ``v`` is the version of the kiosk's profile request: which changes it reads.
        """
        now = self._clock()
        row = {"shopper": shopper, "store": store, "kiosk": kiosk, "session": session, "since": now,
               "until": now + timedelta(seconds=self.bound_s)}
        with self._engine.begin() as db:
            db.execute(presence.delete().where(presence.c.store == store, presence.c.kiosk == kiosk,
                                               presence.c.shopper != shopper))
            statement = self._insert(presence).values(**row)
            db.execute(statement.on_conflict_do_update(index_elements=["shopper"],
                                                       set_={name: statement.excluded[name] for name in row}))
            version = self._insert(stay_versions).values(shopper=shopper, session=session, v=v)
            db.execute(version.on_conflict_do_update(index_elements=["shopper"],
                                                     set_={"session": session, "v": v}))

    def leave(self, store: str, kiosk: str, session: str | None = None) -> int:
        """The visit ``session`` at this kiosk ended (any visit there when None); returns how many stays ended."""
        where = [presence.c.store == store, presence.c.kiosk == kiosk]
        if session is not None:
            where.append(presence.c.session == session)
        with self._engine.begin() as db:
            return int(db.execute(presence.delete().where(*where)).rowcount)

    def forget(self, shopper: str) -> None:
        """End ``shopper``'s stay, wherever it is (their profile was erased)."""
        with self._engine.begin() as db:
            db.execute(presence.delete().where(presence.c.shopper == shopper))
            db.execute(stay_versions.delete().where(stay_versions.c.shopper == shopper))

    def stays(self, shoppers: Collection[str]) -> dict[str, Stay]:
        """The stays of those among ``shoppers`` who stand at a kiosk now, by shopper (one query)."""
        if not shoppers:
            return {}
        query = (sa.select(presence, stay_versions.c.v)
                 .select_from(presence.outerjoin(stay_versions, sa.and_(stay_versions.c.shopper == presence.c.shopper,
                                                                        stay_versions.c.session == presence.c.session)))
                 .where(presence.c.shopper.in_(sorted(shoppers)), presence.c.until > self._clock()))
        with self._engine.connect() as db:
            return {row.shopper: _stay(row) for row in db.execute(query)}

    def stay_of(self, shopper: str) -> Stay | None:
        """Where ``shopper`` stands now, if anywhere."""
        return self.stays([shopper]).get(shopper)

    def expire(self) -> int:
        """Forget the stays past their bound; returns how many."""
        with self._engine.begin() as db:
            gone = int(db.execute(presence.delete().where(presence.c.until <= self._clock())).rowcount)
            db.execute(stay_versions.delete().where(stay_versions.c.session.not_in(sa.select(presence.c.session))))
            return gone

    def cursor(self, name: str) -> int | None:
        """The last change pusher ``name`` dealt with, or None before its first start."""
        with self._engine.connect() as db:
            return db.execute(sa.select(push_cursors.c.cursor).where(push_cursors.c.name == name)).scalar()

    def keep_cursor(self, name: str, cursor: int) -> None:
        """Pusher ``name`` has dealt with every change up to ``cursor``."""
        with self._engine.begin() as db:
            statement = self._insert(push_cursors).values(name=name, cursor=cursor)
            db.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"cursor": cursor}))


def _stay(row: Any) -> Stay:
    since = row.since if row.since.tzinfo else row.since.replace(tzinfo=UTC)  # SQLite gives naive datetimes
    return Stay(row.shopper, row.store, row.kiosk, row.session, since, row.v or 2)
