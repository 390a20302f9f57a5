"""HQ's profile store: every event stored once by id, under the shopper's profile.

The database is named by URL: ``sqlite:///path.db`` (the default) or
``postgresql+psycopg://...`` when it grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend_sync.contract import TapEvent

_metadata = sa.MetaData()

profiles = sa.Table(
    "profiles",
    _metadata,
    sa.Column("profile_key", sa.String(160), primary_key=True),
    sa.Column("shopper", sa.String(128), nullable=True, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "events",
    _metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("profile_key", sa.String(160), sa.ForeignKey("profiles.profile_key"), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("session", sa.String(36), nullable=False),
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


def _sqlite_wal(connection: Any, _record: Any) -> None:
    # WAL lets readers (the profile API, the demo) read while ingest writes; FULL keeps a
    # committed event on disk before HQ acknowledges it to the broker.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")


def profile_key(event: TapEvent) -> str:
    """Whose profile an event belongs to: the shopper's, or its anonymous session's.

    A kiosk id is never an identity key.
    """
    return f"shopper:{event.shopper}" if event.shopper else f"session:{event.session}"


@dataclass(frozen=True)
class StoredEvent:
    """An event as HQ holds it."""

    event_id: str
    profile_key: str
    kind: str
    store: str
    kiosk: str
    sku: str
    at: datetime


class ProfileStore:
    """Profiles and their events in a SQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = sa.create_engine(url, pool_pre_ping=True)
        if self._engine.dialect.name == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_wal)
        _metadata.create_all(self._engine)
        self._insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert

    def record(self, event: TapEvent) -> bool:
        """Store an event once; returns False if its id was already stored."""
        return bool(self.record_many([event]))

    def record_many(self, batch: Sequence[TapEvent]) -> set[str]:
        """Store a batch of events in one transaction; returns the ids that were new.

        Events whose id is already stored are skipped, so redelivered or resent events
        are never counted twice.
        """
        if not batch:
            return set()
        now = datetime.now(UTC)
        keys = {profile_key(event): event.shopper for event in batch}
        with self._engine.begin() as db:
            db.execute(
                self._insert(profiles).on_conflict_do_update(index_elements=["profile_key"],
                                                             set_={"last_seen": now}),
                [{"profile_key": key, "shopper": shopper, "created_at": now, "last_seen": now}
                 for key, shopper in keys.items()],
            )
            inserted = db.execute(
                self._insert(events).on_conflict_do_nothing(index_elements=["event_id"]).returning(events.c.event_id),
                [{"event_id": str(event.event_id), "profile_key": profile_key(event), "kind": event.kind.value,
                  "store": event.store, "kiosk": event.kiosk, "seq": event.seq, "session": str(event.session),
                  "sku": event.sku, "at": event.at, "received_at": now} for event in batch],
            )
            return set(inserted.scalars())

    def has_event(self, event_id: str) -> bool:
        """Whether an event with this id is stored."""
        with self._engine.connect() as db:
            return db.execute(sa.select(events.c.event_id).where(events.c.event_id == event_id)).first() is not None

    def history(self, key: str) -> list[StoredEvent]:
        """A profile's events, oldest first."""
        query = (
            sa.select(events.c.event_id, events.c.profile_key, events.c.kind, events.c.store, events.c.kiosk,
                      events.c.sku, events.c.at)
            .where(events.c.profile_key == key)
            .order_by(events.c.at, events.c.seq)
        )
        with self._engine.connect() as db:
            return [StoredEvent(*row) for row in db.execute(query)]

    def event_count(self) -> int:
        """How many events are stored in all."""
        with self._engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()
