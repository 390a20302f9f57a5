"""HQ's versioned schema: a new database is made at the newest revision, an older one is
refused until `kiosk hq db upgrade` takes it there with every row kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from hq import ProfileStore, SchemaOutOfDate, newest_revision, revision_of, upgrade_schema
from hq._migrations import _config
from hq._schema import metadata
from kiosk_app.cli import main

# Made by HQ's release before versioned schemas: a shopper's consent, view and wishlist, a web
# order, a store's stock feed and a hold; that release made no phone sessions' table.
BEFORE_VERSIONS = Path(__file__).parent / "data" / "hq_before_versioned_schemas.sql"
REVISION_2 = {"alarms", "alarm_routes", "alarm_notices", "enrolments"}
REVISION_3 = {"rollouts"}
NEWER_TABLES = {"phone_sessions": 0, **dict.fromkeys(REVISION_2 | REVISION_3, 0)}  # made since that release, empty


def _rows(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            tables = [name for name in sa.inspect(db).get_table_names() if name != "alembic_version"]
            return {name: db.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in tables}
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    """What the database's schema lacks or has beyond HQ's tables, as Alembic's autogenerate sees it."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return list(compare_metadata(MigrationContext.configure(db), metadata))
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return revision_of(db)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))


@pytest.fixture
def before_versions(tmp_path: Path) -> str:
    """A SQLite database as the release before versioned schemas left it."""
    path = tmp_path / "hq.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(BEFORE_VERSIONS.read_text())
    return f"sqlite:///{path}"


def test_a_first_start_makes_the_newest_schema(empty_url: str) -> None:
    ProfileStore(empty_url).close()

    assert _revision(empty_url) == newest_revision()
    assert _differences(empty_url) == []


def test_the_migrations_make_the_schema_hqs_tables_define(empty_url: str) -> None:
    """Run from an empty database they end where a first start does: a model change without
    its migration fails here."""
    engine = sa.create_engine(empty_url)
    try:
        assert upgrade_schema(engine) == (None, newest_revision())
    finally:
        engine.dispose()

    assert _differences(empty_url) == []
    ProfileStore(empty_url).close()  # at the newest revision: taken as it is


def test_a_database_from_before_versioned_schemas_is_refused_untouched(before_versions: str) -> None:
    rows = _rows(before_versions)

    with pytest.raises(SchemaOutOfDate, match="kiosk hq db upgrade"):
        ProfileStore(before_versions)

    assert _rows(before_versions) == rows
    assert _revision(before_versions) is None


def test_hq_commands_name_the_upgrade_instead_of_a_traceback(before_versions: str) -> None:
    result = CliRunner().invoke(main, ["hq", "export-profile", "shopper-0001", "--db", before_versions])

    assert result.exit_code == 1
    assert "older than this HQ's" in result.output and "kiosk hq db upgrade" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_upgrade_keeps_every_row_and_adds_what_was_missing(before_versions: str) -> None:
    rows = _rows(before_versions)
    assert "phone_sessions" not in rows

    result = CliRunner().invoke(main, ["hq", "db", "upgrade", "--db", before_versions])

    assert result.exit_code == 0, result.output
    assert f"upgraded from before versioned schemas to revision {newest_revision()}" in result.output
    assert _rows(before_versions) == {**rows, **NEWER_TABLES}
    assert _differences(before_versions) == []
    store = ProfileStore(before_versions)
    try:
        profile = store.export("shopper-0001")
        assert profile["wishlist"] == ["BOOT-CHELSEA-BLK"]
        assert [order["order_id"] for order in profile["orders"]] == ["web-1001"]
        assert [(r.sku, r.size) for r in store.reservations.open_in("store-01")] == [("BOOT-CHELSEA-BLK", "41")]
        assert store.changes.latest() == 5
    finally:
        store.close()
    again = CliRunner().invoke(main, ["hq", "db", "upgrade", "--db", before_versions])
    assert again.exit_code == 0 and f"already at revision {newest_revision()}" in again.output


def test_a_database_of_a_newer_release_is_refused(empty_url: str) -> None:
    ProfileStore(empty_url).close()
    engine = sa.create_engine(empty_url)
    try:
        with engine.begin() as db:
            db.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dface'"))
    finally:
        engine.dispose()

    with pytest.raises(SchemaOutOfDate, match="newer HQ release"):
        ProfileStore(empty_url)
    assert _revision(empty_url) == "f00dface"


def test_a_postgresql_database_from_before_versioned_schemas_upgrades(postgres_url: str) -> None:
    """As that release left one that never served a phone page, nor had a later index."""
    store = ProfileStore(postgres_url)
    store.stock.apply_feed("store-01", 1, {"BOOT-CHELSEA-BLK": {"40": 1, "41": 3}}, "till")
    store.close()
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as db:
            for table in ("alembic_version", *NEWER_TABLES):
                db.execute(sa.text(f"DROP TABLE {table}"))
            db.execute(sa.text("DROP INDEX eventskiosk_seq"))
        rows = _rows(postgres_url)
        with pytest.raises(SchemaOutOfDate, match="from before versioned schemas"):
            ProfileStore(postgres_url)

        assert upgrade_schema(engine) == (None, newest_revision())
    finally:
        engine.dispose()
    assert _differences(postgres_url) == []
    assert _rows(postgres_url) == {**rows, **NEWER_TABLES}


def test_a_downgrade_drops_only_the_newer_tables_and_below_the_first_schema_is_refused(before_versions: str) -> None:
    assert CliRunner().invoke(main, ["hq", "db", "upgrade", "--db", before_versions]).exit_code == 0
    rows = _rows(before_versions)
    engine = sa.create_engine(before_versions)
    try:
        with engine.begin() as db:
            command.downgrade(_config(db), "0001")  # the rollouts, alarm log and enrolments go, the rest stays
        assert _rows(before_versions) == {name: count for name, count in rows.items()
                                          if name not in REVISION_2 | REVISION_3}
        with engine.begin() as db, pytest.raises(RuntimeError, match="would only drop HQ's data"):
            command.downgrade(_config(db), "base")
    finally:
        engine.dispose()

    assert _rows(before_versions) == {name: count for name, count in rows.items()
                                      if name not in REVISION_2 | REVISION_3}
    assert _revision(before_versions) == "0001"


def test_a_database_at_revision_2_with_alarms_upgrades_to_rollouts_keeping_every_row(before_versions: str) -> None:
    """As the release with the alarm log left it: an alarm raised and its route, then the rollouts' table added."""
    engine = sa.create_engine(before_versions)
    try:
        with engine.begin() as db:
            command.upgrade(_config(db), "0002")
        with engine.begin() as db:
            db.execute(sa.text("INSERT INTO alarm_routes (store, email, created_at) "
                               "VALUES ('madrid-centro', 'manager@madrid.example', '2026-12-07 10:00:00')"))
            db.execute(sa.text("INSERT INTO alarms (store, kiosk, kind, message, raised_at, open_key) VALUES "
                               "('madrid-centro', 'kiosk-01', 'update_failed', 'Catalog update refused', "
                               "'2026-12-07 11:00:00', 'madrid-centro/kiosk-01/update_failed')"))
    finally:
        engine.dispose()
    rows = _rows(before_versions)
    with pytest.raises(SchemaOutOfDate, match="revision 0002"):
        ProfileStore(before_versions)

    result = CliRunner().invoke(main, ["hq", "db", "upgrade", "--db", before_versions])

    assert result.exit_code == 0, result.output
    assert f"upgraded from revision 0002 to revision {newest_revision()}" in result.output
    assert _rows(before_versions) == {**rows, "rollouts": 0}
    assert _differences(before_versions) == []
    store = ProfileStore(before_versions)
    try:
        [alarm] = store.alarms.open_alarms().values()
        assert (alarm.key.kiosk, alarm.message) == ("kiosk-01", "Catalog update refused")
        assert [route.email for route in store.alarms.routes("madrid-centro")] == ["manager@madrid.example"]
        assert store.rollouts.current() is None
    finally:
        store.close()
