"""Throwaway PostgreSQL databases on the server the tests use (``KIOSK_TEST_PG_URL``)."""

from __future__ import annotations

import os
import uuid
from types import TracebackType

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "KIOSK_TEST_PG_URL", "postgresql+psycopg://kiosk_test:kiosk_test@127.0.0.1:5432/postgres"
)


class ThrowawayDatabase:
    """A fresh database named ``<prefix>_<random>``, created now and dropped by ``drop`` (or on leaving a ``with``)."""

    def __init__(self, prefix: str = "kiosk_test") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as db:
            db.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        """Drop the database, whoever is still connected to it."""
        with self._admin.connect() as db:
            db.execute(sa.text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))
        self._admin.dispose()

    def __enter__(self) -> ThrowawayDatabase:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.drop()
