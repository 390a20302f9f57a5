"""Reservations: a unit of one size of one SKU held in a store for a shopper, for the fitting
room or to collect, until staff hand it over, someone cancels it, or its time runs out.

- **Never the same unit twice.** A hold is ONE conditional UPDATE of the stock row
  (``held = held + 1 WHERE held < units``): PostgreSQL takes the row's lock, and a rival
  hold re-checks the condition once it has it, so two shoppers can never hold the last
  unit. When every unit is held, overdue holds of that row are expired in the same
  transaction and the UPDATE tried once more (their rows taken ``FOR UPDATE SKIP LOCKED``:
  one another process is expiring is its to free); a row with units free needs no such
  look, and costs one statement less.
- **States.** ``held`` (an open request) -> ``taken`` (staff on it) -> ``ready`` (in the
  fitting room, at the counter) -> ``collected`` (it becomes an order, ``reservation-<id>``,
  in the same transaction, and the unit leaves stock); or ``cancelled`` / ``expired``,
  which free the unit. Staff move forward only; a state once closed stays.
- **Expiry.** ``expire_due(now)`` marks every overdue open hold ``expired`` and frees its
  unit; ``kiosk hq serve`` calls it from a sweeper thread (``_hold_sweeper``).
- **The shopper's.** Each state of a reservation for a known shopper is a change in the log
  (``reservation``); an erase unlinks their reservations (the unit stays held until it ends).

- **Where and when.** A reservation asked for at a kiosk (``_reservation_desk``) keeps that
  kiosk, its visit and the kiosk's request id; every change of a reservation or stock row
  stamps it with the transaction's ``revision`` (``_revisions``), which the live follower
  (``_live``) pages by.

Every transaction here takes reservation rows first, then stock rows (several in one
order), then the live revision counter, then the change log's counter, so none waits on
another in a circle.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from hq._analytics import Analytics, attributable, attributable_params
from hq._changes import ChangeLog, change_cursor, changes, reservation_change
from hq._changes import append as append_changes
from hq._orders import Order, OrderLine, Orders, line_flags
from hq._revisions import PENDING, live_revision, stamp_pending
from hq._schema import _KEY, erased, metadata
from hq._stock import Stock, stock
from hq.exceptions import Refused
from kiosk_protocol import ReservationKind, ReservationState

EXPIRY_CHANNEL = "hq"  # who expires a hold: HQ itself
_SWEEP_BATCH = 500


OPEN_STATES = tuple(state for state in ReservationState if state.holds_stock)
_OPEN = [state.value for state in OPEN_STATES]
# The states staff may move a reservation to, and from which.
STAFF_MOVES = {ReservationState.TAKEN: (ReservationState.HELD,),
               ReservationState.READY: (ReservationState.HELD, ReservationState.TAKEN)}
# Minutes a hold lasts by default, and at most, by kind.
HOLD_MINUTES = {ReservationKind.FITTING_ROOM: (20, 120), ReservationKind.COLLECT: (2 * 24 * 60, 7 * 24 * 60)}

reservations = sa.Table(
    "reservations", metadata,
    sa.Column("reservation_id", sa.String(32), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("size", sa.String(32), nullable=False),
    sa.Column("profile_key", _KEY, nullable=True, index=True),  # None: no known shopper (or erased)
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("note", sa.String(100), nullable=True),  # staff's: "fitting room 2"
    sa.Column("channel", sa.String(64), nullable=False),  # who made it
    # Where it was made: the kiosk and its visit (None: over the API), and the kiosk's request id.
    sa.Column("kiosk", sa.String(64), nullable=True),
    sa.Column("session", sa.String(36), nullable=True),
    sa.Column("request_id", sa.String(32), nullable=True, unique=True),
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),  # of its last change (``_revisions``)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
# A store's open requests, oldest first; and a stock row's open holds, for its expiry.
sa.Index("reservations_open", reservations.c.store, reservations.c.state, reservations.c.created_at)
sa.Index("reservations_row", reservations.c.store, reservations.c.sku, reservations.c.size, reservations.c.state)
sa.Index("reservations_due", reservations.c.state, reservations.c.expires_at)


# The statements every hold runs, built once: a hold is on the hot path of every channel.
_AT_ROW = (stock.c.store == sa.bindparam("row_store"), stock.c.sku == sa.bindparam("row_sku"),
           stock.c.size == sa.bindparam("row_size"))
_TAKE = (stock.update().where(*_AT_ROW, stock.c.held < stock.c.units).values(held=stock.c.held + 1, revision=PENDING)
         .returning(stock.c.held))
_UNITS = sa.select(stock.c.units).where(*_AT_ROW)
_INSERT = reservations.insert()
_ERASED = sa.select(erased.c.shopper_hash).where(erased.c.shopper_hash == sa.bindparam("shopper_hash"))


def _hold_at_once() -> sa.Select[Any]:
    """A hold as one PostgreSQL statement: take a free unit of the size (unless the shopper was
    erased), then the next live revision, insert the reservation with it and, for a known
    shopper, append its change to the log: each step only if the one before it did. It
    answers the revision and whether analytics have a visit to mark the reservation in.

    Locks come in the order every transaction here takes them (stock row, live revision,
    change cursor). The stock row keeps its revision: the live follower learns of the change
    from the reservation's, and publishes the size's level from it.
    """
    taken = (stock.update().where(*_AT_ROW, stock.c.held < stock.c.units,
                                  ~sa.exists(_ERASED))
             .values(held=stock.c.held + 1).returning(stock.c.held).cte("taken"))
    revision = (live_revision.update().where(live_revision.c.id == 1, sa.exists(sa.select(taken.c.held)))
                .values(value=live_revision.c.value + 1).returning(live_revision.c.value).cte("revision"))
    columns = [c for c in reservations.c if c.name != "revision"]
    made = (reservations.insert()
            .from_select([*columns, reservations.c.revision],
                         sa.select(*[sa.bindparam(f"new_{c.name}", type_=c.type) for c in columns], revision.c.value))
            .returning(reservations.c.revision).cte("made"))
    cursor = (change_cursor.update().where(change_cursor.c.id == 1, sa.bindparam("logged", type_=sa.Boolean),
                                           sa.exists(sa.select(made.c.revision)))
              .values(value=change_cursor.c.value + 1).returning(change_cursor.c.value).cte("cursor"))
    logged = changes.insert().from_select(
        ["cursor", "shopper", "kind", "store", "kiosk", "at", "fields"],
        sa.select(cursor.c.value, sa.bindparam("change_shopper", type_=changes.c.shopper.type),
                  sa.bindparam("change_kind", type_=changes.c.kind.type),
                  sa.bindparam("change_store", type_=changes.c.store.type),
                  sa.bindparam("change_kiosk", type_=changes.c.kiosk.type),
                  sa.bindparam("new_created_at", type_=changes.c.at.type),
                  sa.bindparam("change_fields", type_=changes.c.fields.type))).cte("logged")
    return sa.select(made.c.revision, attributable("reserved").label("attributable")).add_cte(logged)


_HOLD_AT_ONCE = _hold_at_once()
_CHANGE_PARTS = ("shopper", "kind", "store", "kiosk", "fields")  # of a change row, as ``_HOLD_AT_ONCE`` binds them


class ReservationRefused(Refused):
    """A reservation not made or not moved on."""


@dataclass(frozen=True)
class Reservation:
    """A reservation as HQ holds it; ``shopper`` is None without a known shopper."""

    reservation_id: str
    store: str
    sku: str
    size: str
    shopper: str | None
    kind: ReservationKind
    state: ReservationState
    note: str | None
    channel: str
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    kiosk: str | None = None  # where it was made: a kiosk of its store, in visit ``session``
    session: str | None = None
    revision: int = 0  # of its last change: orders one reservation's states

    @property
    def hold_length(self) -> timedelta:
        """How long it was held for when made."""
        return self.expires_at - self.created_at

    @property
    def order_id(self) -> str:
        """The order it becomes once collected."""
        return f"reservation-{self.reservation_id}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def hold_length(kind: ReservationKind, minutes: int | None) -> timedelta:
    """How long a hold of ``kind`` lasts: ``minutes``, or the kind's default.

    Raises:
        ReservationRefused: ``hold_too_long`` (422) past the kind's bound.
    """
    default, longest = HOLD_MINUTES[kind]
    if minutes is not None and minutes > longest:
        raise ReservationRefused(422, "hold_too_long", f"a {kind.value} hold lasts at most {longest} minutes")
    return timedelta(minutes=minutes or default)


class Reservations:
    """Every store's reservations (``ProfileStore.reservations``); ``refused`` counts refusals by code."""

    def __init__(self, engine: sa.Engine, changes: ChangeLog, orders: Orders, stock_book: Stock,
                 erased_hash: Callable[[str], str] = lambda shopper: shopper,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), analytics: Analytics | None = None) -> None:
        self._engine = engine
        self._analytics = analytics  # a reservation of a product looked at in a visit, counted as reserved
        self._erased_hash = erased_hash  # how an erased shopper is kept in ``erased``
        self._changes = changes
        self._orders = orders
        self._stock = stock_book
        self.clock = clock
        self.refused: Counter[str] = Counter()
        self.expired = 0

    def hold(self, store: str, sku: str, size: str, shopper: str | None, kind: ReservationKind,
             hold_minutes: int | None, channel: str, kiosk: str | None = None, session: str | None = None,
             request_id: str | None = None) -> Reservation:
        """Hold one free unit of ``sku`` in ``size`` at ``store`` (asked at ``kiosk`` in visit ``session``).

        Raises:
            ReservationRefused: ``unknown_product`` (404), ``out_of_stock`` (409), ``erased`` (410),
                ``hold_too_long`` (422).
        """
        now = self.clock()
        expires = now + self._checked(hold_length, kind, hold_minutes)
        made = Reservation(uuid.uuid4().hex, store, sku, size, shopper, kind, ReservationState.HELD, None, channel,
                           now, expires, now, kiosk, session)
        values = _row_of(made, request_id)
        if self._engine.dialect.name == "postgresql":
            held = self._hold_at_once(made, values)
            if held is not None:
                revision, to_attribute = held
                # Counted for analytics in a transaction of its own once the hold's statement has committed,
                # only when that statement found a visit to mark it in.
                if self._analytics is not None and to_attribute:
                    with self._engine.begin() as db:
                        self._analytics.reserved_in(db, shopper, sku, session, now)
                return _with(made, revision=revision)
        row = {"row_store": store, "row_sku": sku, "row_size": size}
        with self._changes.writing() as db:
            if shopper and db.execute(_ERASED, {"shopper_hash": self._erased_hash(shopper)}).first():
                raise self._refuse(410, "erased", "this shopper's profile was erased; HQ keeps nothing more about them")
            taken = db.execute(_TAKE, row).first()
            gone: list[Reservation] = []
            if taken is None:  # every unit held: overdue holds of this size give theirs back first
                gone = self._expire(db, self._due(now, reservations.c.store == store, reservations.c.sku == sku,
                                                  reservations.c.size == size), now)
                if gone:
                    taken = db.execute(_TAKE, row).first()
            if taken is None:
                if db.scalar(_UNITS, row) is None:
                    raise self._refuse(404, "unknown_product", f"{store} has no {sku} in size {size!r}")
                raise self._refuse(409, "out_of_stock", f"every unit of {sku} in size {size} at {store} is held "
                                   "or sold")
            db.execute(_INSERT, {**values, "revision": PENDING})
            made = _with(made, revision=stamp_pending(db, stock, reservations))
            if self._analytics is not None:
                self._analytics.reserved_in(db, shopper, sku, session, now)
            append_changes(db, _changes_of(gone, EXPIRY_CHANNEL, now) + _changes_of([made], channel, now))
        return made

    def _hold_at_once(self, made: Reservation, values: dict[str, Any]) -> tuple[int, bool] | None:
        """PostgreSQL's common case, a size with a unit free: the hold in ONE statement that commits
        as it ends (``_HOLD_AT_ONCE``); its revision and whether analytics have a visit to mark it
        in, or None when it took nothing (no unit free, an erased shopper, an unknown size), for
        the full transaction to sort out.

        The live revision counter's row lock is what every writer of stock queues on: held here
        only inside the database, for microseconds, never across a round trip to HQ's process.
        """
        change = next(iter(_changes_of([made], made.channel, made.created_at)),
                      {"shopper": "", "kind": "", "store": "", "kiosk": "", "fields": {}})
        # Named apart from the columns: SQLAlchemy takes a parameter named as a column for a value to set.
        params = {**{f"new_{name}": value for name, value in values.items()},
                  "row_store": made.store, "row_sku": made.sku, "row_size": made.size,
                  "shopper_hash": self._erased_hash(made.shopper) if made.shopper else "",  # "": no digest
                  "logged": bool(made.shopper), **{f"change_{name}": change[name] for name in _CHANGE_PARTS},
                  **attributable_params(made.shopper, made.sku, made.session, made.created_at,
                                        self._analytics is not None and self._analytics.enabled)}
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
            row = db.execute(_HOLD_AT_ONCE, params).first()
        if row is None:
            return None
        self._changes.written.wake()
        return int(row.revision), bool(row.attributable)

    def cancel(self, store: str, reservation_id: str, channel: str) -> Reservation:
        """Cancel an open reservation and free its unit (a cancelled one answers as it is).

        Raises:
            ReservationRefused: ``unknown_reservation`` (404), ``reservation_closed`` (409).
        """
        return self._close(store, reservation_id, ReservationState.CANCELLED, OPEN_STATES, channel, None)

    def move(self, store: str, reservation_id: str, state: ReservationState, note: str | None,
             channel: str) -> Reservation:
        """Staff move a reservation on to ``taken`` or ``ready`` (the same state again answers as it is).

        Raises:
            ReservationRefused: ``unknown_reservation`` (404), ``reservation_closed``,
                ``reservation_expired`` or ``invalid_transition`` (409).
        """
        return self._close(store, reservation_id, state, STAFF_MOVES[state], channel, note)

    def collect(self, store: str, reservation_id: str, channel: str,
                unit_price: Decimal | None = None) -> tuple[Reservation, Order]:
        """Hand a reservation over: it becomes an order and its unit leaves stock (a retry answers the same).

        ``unit_price`` is what the shopper paid; the catalog's price in ``store`` when not given.

        Raises:
            ReservationRefused: ``unknown_reservation`` (404), ``reservation_closed``,
                ``reservation_expired``, ``price_unknown`` (409).
        """
        existing = self.get(store, reservation_id)
        if existing is not None and existing.state is ReservationState.COLLECTED:
            order = self._orders.get(existing.order_id)
            if order is not None:
                return existing, order
        price = unit_price if unit_price is not None else self._stock.price(store, existing.sku if existing else "")
        if existing is not None and existing.is_open and price is None:
            raise self._refuse(409, "price_unknown", f"HQ's catalog has no price of {existing.sku} at {store}: "
                               "give the unit_price paid")
        collected = self._close(store, reservation_id, ReservationState.COLLECTED, OPEN_STATES, channel, None,
                                price=price)
        order = self._orders.get(collected.order_id)
        assert order is not None  # placed in the same transaction
        return collected, order

    def get(self, store: str, reservation_id: str) -> Reservation | None:
        with self._engine.connect() as db:
            row = db.execute(sa.select(reservations).where(reservations.c.reservation_id == reservation_id,
                                                           reservations.c.store == store)).first()
        return None if row is None else stored_reservation(row)

    def by_request(self, request_id: str) -> Reservation | None:
        """The reservation a kiosk's request ``request_id`` made (None: none yet)."""
        with self._engine.connect() as db:
            row = db.execute(sa.select(reservations).where(reservations.c.request_id == request_id)).first()
        return None if row is None else stored_reservation(row)

    def open_in(self, store: str, limit: int = 500) -> list[Reservation]:
        """A store's open requests, oldest first."""
        query = (sa.select(reservations).where(reservations.c.store == store, reservations.c.state.in_(_OPEN))
                 .order_by(reservations.c.created_at, reservations.c.reservation_id).limit(limit))
        with self._engine.connect() as db:
            return [stored_reservation(row) for row in db.execute(query)]

    def of(self, key: str, open_only: bool = False) -> list[Reservation]:
        """The reservations of profile ``key``, newest first (its open ones only if ``open_only``)."""
        query = sa.select(reservations).where(reservations.c.profile_key == key)
        if open_only:
            query = query.where(reservations.c.state.in_(_OPEN))
        with self._engine.connect() as db:
            return [stored_reservation(row) for row in db.execute(
                query.order_by(reservations.c.created_at.desc(), reservations.c.reservation_id))]

    def unlink_in(self, db: sa.Connection, key: str) -> None:
        """Take profile ``key``'s reservations off it (an erase), in ``db``'s transaction."""
        db.execute(reservations.update().where(reservations.c.profile_key == key).values(profile_key=None))

    def expire_due(self, now: datetime) -> int:
        """Mark every open hold overdue at ``now`` expired and free its unit; how many expired."""
        expired = 0
        while True:
            with self._changes.writing() as db:
                batch = len(self._expire_now(db, self._due(now).limit(_SWEEP_BATCH), now))
            expired += batch
            if batch < _SWEEP_BATCH:
                return expired

    def _due(self, now: datetime, *where: sa.ColumnElement[bool]) -> sa.Select[Any]:
        # SKIP LOCKED: a hold another transaction is closing or expiring is left to it.
        return (sa.select(reservations).where(reservations.c.state.in_(_OPEN), reservations.c.expires_at <= now,
                                              *where)
                .order_by(reservations.c.expires_at).with_for_update(skip_locked=True))

    def _expire(self, db: sa.Connection, due: sa.Select[Any], now: datetime) -> list[Reservation]:
        """Expire the holds ``due`` selects and free their units; the caller stamps them and logs the changes."""
        overdue = [stored_reservation(row) for row in db.execute(due)]
        if not overdue:
            return []
        db.execute(reservations.update().where(reservations.c.reservation_id.in_([r.reservation_id for r in overdue]))
                   .values(state=ReservationState.EXPIRED.value, updated_at=now, revision=PENDING))
        freed = Counter((r.store, r.sku, r.size) for r in overdue)
        for (store, sku, size), count in sorted(freed.items()):
            db.execute(stock.update().where(stock.c.store == store, stock.c.sku == sku, stock.c.size == size)
                       .values(held=_less(stock.c.held, count), revision=PENDING))
        self.expired += len(overdue)
        return [_with_state(r, ReservationState.EXPIRED) for r in overdue]

    def _expire_now(self, db: sa.Connection, due: sa.Select[Any], now: datetime) -> list[Reservation]:
        """``_expire``, stamped and logged: all the transaction does."""
        gone = self._expire(db, due, now)
        if gone:
            stamp_pending(db, stock, reservations)
            append_changes(db, _changes_of(gone, EXPIRY_CHANNEL, now))
        return gone

    def _close(self, store: str, reservation_id: str, state: ReservationState, allowed: Sequence[ReservationState],
               channel: str, note: str | None, price: Decimal | None = None) -> Reservation:
        """Move a reservation from one of ``allowed`` to ``state`` with what ``state`` does to stock and orders."""
        now = self.clock()
        refusal: ReservationRefused | None = None
        with self._changes.writing() as db:
            values: dict[str, Any] = {"state": state.value, "updated_at": now, "revision": PENDING,
                                      **({"note": note} if note else {})}
            row = db.execute(reservations.update().where(
                reservations.c.reservation_id == reservation_id, reservations.c.store == store,
                reservations.c.state.in_([s.value for s in allowed]), reservations.c.expires_at > now,
            ).values(**values).returning(*reservations.c)).first()
            if row is None:
                current = db.execute(sa.select(reservations).where(reservations.c.reservation_id == reservation_id,
                                                                   reservations.c.store == store)).first()
                if current is not None and current.state == state.value:
                    return stored_reservation(current)  # a retry, or staff pressing twice
                refusal = self._why_not(db, current, state, now)
            else:
                moved = stored_reservation(row)
                at_row = (stock.c.store == store, stock.c.sku == moved.sku, stock.c.size == moved.size)
                if state is ReservationState.COLLECTED:
                    db.execute(stock.update().where(*at_row).values(units=_less(stock.c.units, 1),
                                                                    held=_less(stock.c.held, 1), revision=PENDING))
                elif state is ReservationState.CANCELLED:
                    db.execute(stock.update().where(*at_row).values(held=_less(stock.c.held, 1), revision=PENDING))
                moved = _with(moved, revision=stamp_pending(db, stock, reservations))
                if state is ReservationState.COLLECTED:
                    assert price is not None
                    flag = line_flags(self._stock.catalog, [(moved.sku, moved.size)])[0]
                    self._orders.place_in(db, Order(moved.order_id, moved.shopper, channel, store, now,
                                                    (OrderLine(moved.sku, moved.size, 1, price, flag),), channel))
                append_changes(db, _changes_of([moved], channel, now))
                return moved
        raise refusal

    def _why_not(self, db: sa.Connection, current: sa.Row[Any] | None, state: ReservationState,
                 now: datetime) -> ReservationRefused:
        if current is None:
            return self._refuse(404, "unknown_reservation", "no such reservation in this store")
        found = stored_reservation(current)
        if not found.is_open:
            return self._refuse(409, "reservation_closed", f"the reservation is {found.state.value}")
        if found.expires_at <= now:
            self._expire_now(db, self._due(now, reservations.c.reservation_id == found.reservation_id), now)
            return self._refuse(409, "reservation_expired", f"the hold ran out at {found.expires_at.isoformat()}")
        return self._refuse(409, "invalid_transition", f"a {found.state.value} reservation cannot become "
                            f"{state.value}")

    def _refuse(self, status: int, error: str, detail: str) -> ReservationRefused:
        self.refused[error] += 1
        return ReservationRefused(status, error, detail)

    def _checked(self, length: Callable[[ReservationKind, int | None], timedelta], kind: ReservationKind,
                 minutes: int | None) -> timedelta:
        try:
            return length(kind, minutes)
        except ReservationRefused as exc:
            self.refused[exc.error] += 1
            raise


def exported_reservation(r: Reservation) -> dict[str, Any]:
    """A reservation as a shopper's export holds it."""
    return {"reservation": r.reservation_id, "store": r.store, "sku": r.sku, "size": r.size, "kind": r.kind.value,
            "state": r.state.value, "channel": r.channel, "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat()}


def _row_of(made: Reservation, request_id: str | None) -> dict[str, Any]:
    """A new reservation's row (but its revision)."""
    return {"reservation_id": made.reservation_id, "store": made.store, "sku": made.sku, "size": made.size,
            "profile_key": f"shopper:{made.shopper}" if made.shopper else None, "kind": made.kind.value,
            "state": made.state.value, "note": None, "channel": made.channel, "created_at": made.created_at,
            "expires_at": made.expires_at, "updated_at": made.updated_at, "kiosk": made.kiosk,
            "session": made.session, "request_id": request_id}


def _changes_of(made: Sequence[Reservation], channel: str, at: datetime) -> list[dict[str, Any]]:
    return [reservation_change(r.shopper, channel, r.reservation_id, r.state.value, r.sku, r.size, r.store, at)
            for r in made if r.shopper]


def _less(column: sa.ColumnElement[int], count: int) -> sa.ColumnElement[int]:
    """``column - count``, never below 0 (a feed may have set units below what is held)."""
    return sa.case((column > count, column - count), else_=0)


def _with_state(reservation: Reservation, state: ReservationState) -> Reservation:
    return _with(reservation, state=state)


def _with(reservation: Reservation, **changed: Any) -> Reservation:
    return Reservation(**{**reservation.__dict__, **changed})


def stored_reservation(row: sa.Row[Any]) -> Reservation:
    """A row of the ``reservations`` table as a ``Reservation``."""
    return Reservation(row.reservation_id, row.store, row.sku, row.size,
                       row.profile_key.removeprefix("shopper:") if row.profile_key else None,
                       ReservationKind(row.kind), ReservationState(row.state), row.note, row.channel,
                       _utc(row.created_at), _utc(row.expires_at), _utc(row.updated_at), row.kiosk, row.session,
                       row.revision)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
