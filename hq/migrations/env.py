"""Alembic's environment for HQ's database: the connection ``hq._migrations`` hands over,
compared with every table HQ's modules define."""

from alembic import context

import hq._store  # noqa: F401  (it imports every module that adds its tables to the metadata)
from hq._schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, transaction_per_migration=False
)
with context.begin_transaction():
    context.run_migrations()
