"""The live counter of a store's stock and reservations: every transaction that changes a
stock row or a reservation stamps the rows it changed with the next ``revision``, so what
follows them (``_live``, which tells kiosks) pages by ``revision > after``.

Revisions come from one counter row, given out as the change log's cursors are
(``_changes.append``): ``UPDATE live_revision SET value = value + 1 RETURNING value``
holds the row's lock until the writer commits, so a writer gets its revision only once
the previous one's rows are visible. A reader that reads the committed counter first,
``committed()``, and then the rows up to it never misses one below it.

A writer takes the counter after its own stock and reservation rows (and before the change
log's counter), so nothing waits on another in a circle. Rows written before their
revision is known carry ``PENDING`` and are stamped by ``stamp_pending`` in the same
transaction: readers never see it.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._schema import metadata

PENDING = -1  # a row written in this transaction, stamped before it commits

live_revision = sa.Table(
    "live_revision", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
)


def start_counter(db: sa.Connection) -> None:
    """Give the counter its row if it has none yet."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    db.execute(insert(live_revision).values(id=1, value=0).on_conflict_do_nothing(index_elements=["id"]))


def next_revision(db: sa.Connection) -> int:
    """The revision of ``db``'s transaction (its row lock is held until the commit)."""
    return int(db.execute(live_revision.update().where(live_revision.c.id == 1)
                          .values(value=live_revision.c.value + 1).returning(live_revision.c.value)).scalar_one())


def committed(db: sa.Connection) -> int:
    """The highest revision committed: every revision up to it is visible."""
    return int(db.scalar(sa.select(live_revision.c.value).where(live_revision.c.id == 1)) or 0)


def stamp_pending(db: sa.Connection, *tables: sa.Table) -> int:
    """Take the transaction's revision and give it to the rows of ``tables`` it wrote as ``PENDING``.

    On PostgreSQL it is one statement: the counter's lock is held from here to the commit,
    and every writer of stock waits on it, so the fewer round trips after it the better.
    """
    if db.dialect.name != "postgresql":  # SQLite has no data-modifying WITH, and one writer at a time anyway
        revision = next_revision(db)
        for table in tables:
            db.execute(table.update().where(table.c.revision == PENDING).values(revision=revision))
        return revision
    return int(db.execute(_stamping(tables)).scalar_one())


@functools.cache
def _stamping(tables: tuple[sa.Table, ...]) -> sa.Select[Any]:
    """PostgreSQL's statement that takes the revision and stamps ``tables`` with it (built once: holds run it)."""
    taken = (live_revision.update().where(live_revision.c.id == 1).values(value=live_revision.c.value + 1)
             .returning(live_revision.c.value).cte("taken"))
    stamps = [table.update().where(table.c.revision == PENDING)
              .values(revision=sa.select(taken.c.value).scalar_subquery()).cte(f"stamped_{table.name}")
              for table in tables]
    return sa.select(taken.c.value).add_cte(*stamps)
