"""Alembic's scripts for HQ's database (``hq._migrations`` runs them): ``versions/``, one file a schema change."""
