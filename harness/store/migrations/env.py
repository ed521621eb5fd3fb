"""Alembic's entry point: runs the migrations on the connection ``harness.store.schema`` hands it.

There is no alembic.ini: the store builds the configuration in code, so the migrations travel
inside the package and work wherever it is installed.
"""

from __future__ import annotations

from alembic import context

from harness.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `harness db upgrade` (harness.store.schema)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite runs DDL inside our BEGIN IMMEDIATE transaction too (the store's engine emits BEGIN
    # itself), so a migration is all-or-nothing on both backends.
    transactional_ddl=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
