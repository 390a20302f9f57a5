"""HQ's change log: every change to a shopper's profile, in one order that every channel
can follow by cursor.

A change is appended in the same transaction as the change itself, so the log holds
exactly what was stored: the feed lists what changed a profile.

- listed: a view under a shopper's profile (signed in, or anonymous in a session already
  joined to the profile, or joined to it now by a consent grant), and each wishlist add
  or removal, preference, display name, consent or coupon save (``coupon_saved``) that
  won its merge by HLC; each redemption of a coupon (``coupon_redeemed``); each order
  placed for the shopper (``order_placed``); each state a reservation of theirs takes
  (``reservation``); and an
  erase, itself a change, after which the shopper's earlier changes leave the log;
- not listed: an event HQ already held (a duplicate), one it refused or dropped (an
  erased shopper's), an anonymous view, and a change that lost its merge (older than
  what HQ holds for the same wishlist item, preference, display name or consent): it
  changed nothing.

Each change carries its kind's own fields (``CHANGE_FIELDS``); a new kind is one line there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._schema import metadata
from kiosk_protocol import ONLINE_STORE, EventKind, TapEvent, channel_of

ERASE = "erase"
COUPON_SAVED = "coupon_saved"  # a coupon saved (by a kiosk's coupon_save event or the API): its first save
COUPON_REDEEMED = "coupon_redeemed"  # one redemption of a coupon, with how many are left
ORDER_PLACED = "order_placed"  # an order for the shopper, from any channel (``_orders``)
RESERVATION = "reservation"  # a reservation of the shopper's made or moved on (``_reservations``): one per state
# What each kind of change carries besides who, which channel and when; a kind not here is not listed.
CHANGE_FIELDS: Mapping[str, tuple[str, ...]] = {
    EventKind.PRODUCT_VIEW.value: ("sku",),
    EventKind.SUGGESTION_TAP.value: ("sku", "beside"),
    EventKind.WISHLIST_ADD.value: ("sku", "hlc"),
    EventKind.WISHLIST_REMOVE.value: ("sku", "hlc"),
    EventKind.CONSENT.value: ("consent", "hlc"),
    EventKind.PREFERENCE.value: ("key", "value", "hlc"),
    EventKind.DISPLAY_NAME.value: ("display_name", "hlc"),
    COUPON_SAVED: ("offer", "hlc"),
    COUPON_REDEEMED: ("offer", "redemption", "left"),
    ORDER_PLACED: ("order", "lines", "total"),
    RESERVATION: ("reservation", "state", "sku", "size", "store"),
    ERASE: (),
}
# The change an event kind makes, where it is not named as the event.
_CHANGE_OF_EVENT = {EventKind.COUPON_SAVE.value: COUPON_SAVED}

changes = sa.Table(
    "changes", metadata,
    sa.Column("cursor", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("shopper", sa.String(128), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
)
# One row: the last cursor given out.
change_cursor = sa.Table(
    "change_cursor", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
)

# Built once: every change of every channel runs them.
_TAKE_CURSORS = (change_cursor.update().where(change_cursor.c.id == 1)
                 .values(value=change_cursor.c.value + sa.bindparam("count", type_=sa.BigInteger))
                 .returning(change_cursor.c.value))
_INSERT_CHANGES = changes.insert()


@dataclass(frozen=True)
class Change:
    """One listed change to a shopper's profile."""

    cursor: int
    shopper: str
    kind: str
    store: str
    kiosk: str
    at: datetime
    fields: Mapping[str, str]  # the kind's own (CHANGE_FIELDS)

    @property
    def channel(self) -> str:
        """Who made it: ``web``, ``app``... or ``kiosk:<kiosk>``."""
        return channel_of(self.store, self.kiosk)


def start_counter(db: sa.Connection) -> None:
    """Give the log its counter row if it has none yet (its tables are created with the store's)."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    db.execute(insert(change_cursor).values(id=1, value=0).on_conflict_do_nothing(index_elements=["id"]))


def event_changes(stored: Iterable[tuple[TapEvent, str]], won: Collection[str]) -> list[dict[str, Any]]:
    """The changes newly stored events make, each with the shopper whose profile it joined.

    An event with an HLC merges: it is listed only if its id is among those that ``won``.
    """
    listed = []
    for event, shopper in stored:
        kind = _CHANGE_OF_EVENT.get(event.kind.value, event.kind.value)
        if kind in CHANGE_FIELDS and (event.hlc is None or str(event.event_id) in won):
            listed.append(_row(shopper, kind, event.store, event.kiosk, event.at,
                               {name: _text(getattr(event, name)) for name in CHANGE_FIELDS[kind]}))
    return listed


def joined_changes(shopper: str, rows: Iterable[sa.Row[Any]]) -> list[dict[str, Any]]:
    """The changes that anonymous events joining ``shopper``'s profile make (rows of kind,
    store, kiosk, sku, detail, at).

    Only anonymous events move: views, which carry a SKU (and a touched suggestion the SKU
    it was ``beside``, kept as the event's detail), no HLC and no shopper.
    """
    return [_row(shopper, row.kind, row.store, row.kiosk, row.at,
                 {name: row.sku if name == "sku" else row.detail for name in CHANGE_FIELDS[row.kind]})
            for row in sorted(rows, key=lambda row: row.at) if row.kind in CHANGE_FIELDS]


def erase_change(shopper: str, store: str, kiosk: str, at: datetime) -> dict[str, Any]:
    """The change an erase is: the shopper, who erased and when; nothing more."""
    return _row(shopper, ERASE, store, kiosk, at, {})


def coupon_redeemed_change(shopper: str, channel: str, offer: str, redemption: str, left: int,
                           at: datetime) -> dict[str, Any]:
    """The change a redemption through the API is (made by ``channel``, an online one)."""
    return _row(shopper, COUPON_REDEEMED, ONLINE_STORE, channel, at,
                {"offer": offer, "redemption": redemption, "left": str(left)})


def order_placed_change(shopper: str, store: str, channel: str, order: str, lines: int, total: Decimal,
                        at: datetime) -> dict[str, Any]:
    """The change an order is: made by the channel it was bought in (``web``, ``till``...), at ``store``."""
    return _row(shopper, ORDER_PLACED, store, channel, at, {"order": order, "lines": str(lines), "total": str(total)})


def reservation_change(shopper: str, channel: str, reservation: str, state: str, sku: str, size: str, store: str,
                       at: datetime) -> dict[str, Any]:
    """The change a reservation's state is: made by ``channel`` (its store among the fields)."""
    return _row(shopper, RESERVATION, ONLINE_STORE, channel, at,
                {"reservation": reservation, "state": state, "sku": sku, "size": size, "store": store})


def append(db: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append changes in ``db``'s transaction, in this order; the last statement before its commit.

    Cursors come from one counter row: ``UPDATE change_cursor SET value = value + n
    RETURNING value``. Its row lock is held until this transaction commits, so a writer
    gets its cursors only once the previous writer's changes are visible: cursors become
    visible in the order they are given, and a reader paging by ``cursor > after`` never
    sees cursor 8 while 7 is still to come, the gap a sequence leaves when transactions
    commit out of order. A rolled-back writer gives its numbers back. Writers queue on
    the row only from this statement to their commit, and lock nothing after it, so it
    adds no deadlock. (SQLite takes one writer at a time anyway.)
    """
    if not rows:
        return
    last = db.execute(_TAKE_CURSORS, {"count": len(rows)}).scalar_one()
    first = last - len(rows) + 1
    db.execute(_INSERT_CHANGES, [{**row, "cursor": first + n} for n, row in enumerate(rows)])


def forget(db: sa.Connection, shopper: str) -> None:
    """Delete a shopper's changes but their erase, in ``db``'s transaction."""
    db.execute(changes.delete().where(changes.c.shopper == shopper, changes.c.kind != ERASE))


class Wakers:
    """What a writer in this HQ process calls once it has committed, so that its readers here
    need not wait for their next poll (readers in other processes still poll)."""

    def __init__(self) -> None:
        self._wakes: list[Callable[[], None]] = []

    def follow(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` after each such commit (on the writer's thread, so it must only signal);
        returns what stops it."""
        self._wakes.append(wake)
        return lambda: self._wakes.remove(wake)

    def wake(self) -> None:
        for wake in list(self._wakes):
            wake()


class ChangeLog:
    """Reads the change log; ``written`` wakes this process's followers of it at each commit here."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self.written = Wakers()

    @contextlib.contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """A transaction that may ``append`` changes; once it has committed, the followers are woken."""
        with self._engine.begin() as db:
            yield db
        self.written.wake()

    def page(self, after: int, limit: int) -> list[Change]:
        """Up to ``limit`` changes with a cursor above ``after``, oldest first."""
        query = sa.select(changes).where(changes.c.cursor > after).order_by(changes.c.cursor).limit(limit)
        with self._engine.connect() as db:
            return [change_from_row(row) for row in db.execute(query)]

    def latest(self) -> int:
        """The highest cursor in the log (0 when it is empty)."""
        with self._engine.connect() as db:
            return int(db.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.cursor), 0))).scalar_one())


def change_from_row(row: sa.Row[Any]) -> Change:
    """A row of the ``changes`` table as a ``Change``."""
    return Change(row.cursor, row.shopper, row.kind, row.store, row.kiosk, _utc(row.at), row.fields)


def _row(shopper: str, kind: str, store: str, kiosk: str, at: datetime, fields: dict[str, str]) -> dict[str, Any]:
    return {"shopper": shopper, "kind": kind, "store": store, "kiosk": kiosk, "at": at, "fields": fields}


def _text(value: object) -> str:
    return str(getattr(value, "value", value))  # enums (a consent status) by their value


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
