"""Alembic migrations of the store's schema; run them with ``harness db upgrade``."""
