"""HQ's database schema, versioned: Alembic's migrations in ``hq/migrations/versions``.

- A database with no tables yet is made at the newest schema (its tables as HQ's modules
  define them, then stamped with the newest revision): a first start needs no command.
- A database at the newest revision is used as it is.
- Any other is refused before HQ touches it (``SchemaOutOfDate``), saying what to run:
  ``kiosk hq db upgrade`` for an older schema, a newer HQ for one made by a newer release.
  A database from before versioned schemas (HQ's tables, no revision) counts as older.

``upgrade_schema`` takes a database from any older schema to the newest. On PostgreSQL it is
one transaction: it ends at the newest revision or stays as it was (SQLite's driver commits
each schema statement as it runs: copy the file first). The first migration makes what a
database of the release before versioned schemas lacks, so those upgrade like any other.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hq._schema import metadata
from hq.exceptions import SchemaOutOfDate

UPGRADE_COMMAND = "kiosk hq db upgrade"
_SCRIPTS = "hq:migrations"
_SCHEMA_LOCK = 7_310_001  # PostgreSQL advisory lock: one HQ process at a time makes or changes the schema


def newest_revision() -> str:
    """The revision this release's schema is at."""
    head = _scripts().get_current_head()
    assert head is not None, "hq/migrations/versions holds no migration"
    return head


def revision_of(db: sa.Connection) -> str | None:
    """The revision ``db`` is stamped with; None when it has none (empty, or from before versioned schemas)."""
    return MigrationContext.configure(db).get_current_revision()


def prepare(db: sa.Connection) -> None:
    """Make an empty database's schema, or check that ``db``'s is this release's, in ``db``'s transaction.

    Raises:
        SchemaOutOfDate: the schema is older or newer than this release's; nothing was changed.
    """
    _lock(db)
    newest, current = newest_revision(), revision_of(db)
    if current == newest:
        return
    if current is None and not sa.inspect(db).get_table_names():
        metadata.create_all(db)
        MigrationContext.configure(db).stamp(_scripts(), newest)
        return
    known = {script.revision for script in _scripts().walk_revisions()}
    if current is not None and current not in known:
        raise SchemaOutOfDate(f"the database's schema is at revision {current}, which this HQ does not know: a "
                              f"newer HQ release made it; run that release (this one is at {newest})")
    held = f"revision {current}" if current else "from before versioned schemas"
    raise SchemaOutOfDate(f"the database's schema is older than this HQ's ({held}, this HQ needs {newest}): "
                          f"run `{UPGRADE_COMMAND}` with the same --db, then start HQ again")


def upgrade_schema(engine: sa.Engine) -> tuple[str | None, str]:
    """Take the database to the newest schema; the revision it was at (None: unversioned or empty) and is at now."""
    with engine.begin() as db:
        _lock(db)
        was = revision_of(db)
        command.upgrade(_config(db), "head")
        return was, revision_of(db) or newest_revision()


@functools.cache
def _scripts() -> ScriptDirectory:
    """This release's migrations, read once: every HQ store and worker checks its database against them."""
    return ScriptDirectory.from_config(_config())


def _config(db: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    config.attributes["connection"] = db
    return config


def _lock(db: sa.Connection) -> None:
    if db.dialect.name == "postgresql":  # several HQ processes starting at once would race to CREATE TABLE
        db.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
