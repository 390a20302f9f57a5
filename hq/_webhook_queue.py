"""The webhooks' tables, and what delivering them does with them: hold a webhook's lease, read
the change log into its queue, take the shoppers' heads that are due, and record how each
attempt went. Each method is one short transaction, so a worker that dies between two
loses nothing: a change leaves the queue only once its delivery is recorded.

Two tables, beside the change log's:

- ``webhooks``: one row per channel: URL, secret, how far its delivery has read the log
  (``scanned``: every change up to it is delivered, not for this webhook, or queued), the
  counters (delivered, retried, parked), and the lease of the delivery worker that holds
  it, so that of several HQ processes on one database one delivers a webhook at a time;
- ``webhook_queue``: changes read but not yet delivered, by cursor (never their contents,
  which stay in the log). A shopper's oldest queued change is their *head*, and only heads
  are sent, so one shopper's changes arrive in order while every other shopper's flow. A
  head that failed for good is *parked*: it holds back that shopper's later changes for
  this webhook until an operator retries it.

An erase deletes the shopper's earlier changes from the log, and their queued places go
with them, parked or not: the erase is then the shopper's head, and goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hq._changes import ERASE, Change, change_from_row, changes
from hq._schema import metadata
from kiosk_protocol import ONLINE_STORE

SCAN_PAGE = 500  # changes read from the log into a queue at once
MAX_URL_LENGTH = 2048

webhooks = sa.Table(
    "webhooks", metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("url", sa.String(MAX_URL_LENGTH), nullable=False),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("scanned", sa.BigInteger, nullable=False),
    sa.Column("delivered", sa.BigInteger, nullable=False, default=0),
    sa.Column("retried", sa.BigInteger, nullable=False, default=0),
    sa.Column("parked", sa.BigInteger, nullable=False, default=0),
    sa.Column("owner", sa.String(96), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
)
webhook_queue = sa.Table(
    "webhook_queue", metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("cursor", sa.BigInteger, primary_key=True),
    sa.Column("shopper", sa.String(128), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("first_tried", sa.DateTime(timezone=True), nullable=True),
    sa.Column("due", sa.DateTime(timezone=True), nullable=False),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("problem", sa.String(300), nullable=True),
)
# A shopper's head, and what it holds back, without reading other shoppers' changes.
queue_by_shopper = sa.Index("webhook_queue_shopper", webhook_queue.c.channel, webhook_queue.c.shopper,
                            webhook_queue.c.cursor)


@dataclass(frozen=True)
class Webhook:
    """One channel's webhook and what it has done since it was added."""

    channel: str
    url: str
    secret: str = field(repr=False)
    created_at: datetime
    delivered: int = 0
    retried: int = 0  # failed attempts that were tried again
    parked: int = 0  # changes that failed for good, retried since or not




@dataclass(frozen=True)
class Head:
    """A shopper's oldest undelivered change for one webhook, due now."""

    change: Change
    attempts: int  # made so far
    first_tried: datetime | None


class WebhookQueue:
    """Each webhook's undelivered changes, as a delivery worker takes and settles them."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def claim(self, channel: str, owner: str, lease_s: float) -> Webhook | None:
        """``channel``'s webhook if ``owner`` holds its lease, or takes it now, for ``lease_s`` more
        seconds; None while another worker's lease runs, or when the webhook is gone."""
        now = datetime.now(UTC)
        with self._engine.begin() as db:
            taken = db.execute(webhooks.update().where(
                webhooks.c.channel == channel,
                sa.or_(webhooks.c.owner.is_(None), webhooks.c.owner == owner, webhooks.c.lease_until < now),
            ).values(owner=owner, lease_until=now + timedelta(seconds=lease_s))).rowcount
            row = db.execute(sa.select(webhooks).where(webhooks.c.channel == channel)).first() if taken else None
        return webhook_from_row(row) if row is not None else None

    def release(self, channel: str, owner: str) -> None:
        """Give up ``owner``'s lease, so that another worker (or this one, restarted) takes over at once."""
        with self._engine.begin() as db:
            db.execute(webhooks.update().where(webhooks.c.channel == channel, webhooks.c.owner == owner)
                       .values(owner=None, lease_until=None))

    def scan(self, channel: str, limit: int = SCAN_PAGE) -> int:
        """Queue the log's next changes for ``channel``'s webhook, but those its own channel made;
        returns how many were queued.

        An erase takes the shopper's earlier queued changes out (the log no longer holds
        them), parked ones too: the erase is then their head.
        """
        with self._engine.begin() as db:
            scanned = db.execute(sa.select(webhooks.c.scanned).where(webhooks.c.channel == channel)).scalar()
            if scanned is None:
                return 0
            found = db.execute(sa.select(changes.c.cursor, changes.c.shopper, changes.c.kind, changes.c.store,
                                         changes.c.kiosk).where(changes.c.cursor > scanned)
                               .order_by(changes.c.cursor).limit(limit)).all()
            if not found:
                return 0
            now = datetime.now(UTC)
            queued = [{"channel": channel, "cursor": row.cursor, "shopper": row.shopper, "attempts": 0, "due": now}
                      for row in found if not (row.store == ONLINE_STORE and row.kiosk == channel)]
            if queued:
                db.execute(webhook_queue.insert(), queued)
            for erase in (row for row in found if row.kind == ERASE):
                db.execute(webhook_queue.delete().where(webhook_queue.c.channel == channel,
                                                        webhook_queue.c.shopper == erase.shopper,
                                                        webhook_queue.c.cursor < erase.cursor))
            db.execute(webhooks.update().where(webhooks.c.channel == channel).values(scanned=found[-1].cursor))
        return len(queued)

    def heads(self, channel: str, limit: int) -> list[Head]:
        """Up to ``limit`` shoppers' heads that are due and not parked, oldest first.

        A queued change the log no longer holds (its shopper was erased since) is dropped.
        """
        queue, earlier = webhook_queue, webhook_queue.alias("earlier")
        is_head = ~sa.exists().where(earlier.c.channel == queue.c.channel, earlier.c.shopper == queue.c.shopper,
                                     earlier.c.cursor < queue.c.cursor)
        query = (sa.select(queue.c.cursor.label("queued"), queue.c.attempts, queue.c.first_tried, changes)
                 .select_from(queue.outerjoin(changes, changes.c.cursor == queue.c.cursor))
                 .where(queue.c.channel == channel, queue.c.parked_at.is_(None), queue.c.due <= datetime.now(UTC),
                        is_head)
                 .order_by(queue.c.cursor).limit(limit))
        with self._engine.begin() as db:
            rows = db.execute(query).all()
            forgotten = [row.queued for row in rows if row.cursor is None]
            if forgotten:
                db.execute(queue.delete().where(queue.c.channel == channel, queue.c.cursor.in_(forgotten)))
        return [Head(change_from_row(row), row.attempts, _utc(row.first_tried) if row.first_tried else None)
                for row in rows if row.cursor is not None]

    def delivered(self, channel: str, cursor: int) -> None:
        """The receiver took the change: it leaves the queue, and the webhook counts it."""
        with self._engine.begin() as db:
            if db.execute(webhook_queue.delete().where(webhook_queue.c.channel == channel,
                                                       webhook_queue.c.cursor == cursor)).rowcount:
                self._count(db, channel, webhooks.c.delivered)

    def retry_later(self, channel: str, cursor: int, attempts: int, first_tried: datetime, due: datetime,
                    problem: str) -> None:
        """An attempt failed and is to be made again at ``due``."""
        with self._engine.begin() as db:
            if self._settle(db, channel, cursor, attempts=attempts, first_tried=first_tried, due=due,
                            problem=problem):
                self._count(db, channel, webhooks.c.retried)

    def park(self, channel: str, cursor: int, attempts: int, first_tried: datetime, problem: str) -> None:
        """Give up on the change until an operator retries it; it holds back its shopper's later ones."""
        with self._engine.begin() as db:
            if self._settle(db, channel, cursor, attempts=attempts, first_tried=first_tried,
                            parked_at=datetime.now(UTC), problem=problem):
                self._count(db, channel, webhooks.c.parked)

    @staticmethod
    def _settle(db: sa.Connection, channel: str, cursor: int, **values: object) -> bool:
        return bool(db.execute(webhook_queue.update().where(webhook_queue.c.channel == channel,
                                                            webhook_queue.c.cursor == cursor)
                               .values(**values)).rowcount)

    @staticmethod
    def _count(db: sa.Connection, channel: str, counter: sa.Column[int]) -> None:
        db.execute(webhooks.update().where(webhooks.c.channel == channel).values({counter: counter + 1}))


def webhook_from_row(row: sa.Row[Any]) -> Webhook:
    """A row of the ``webhooks`` table as a ``Webhook``."""
    return Webhook(row.channel, row.url, row.secret, _utc(row.created_at), row.delivered, row.retried, row.parked)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
