"""``harness db``: the store's schema (``upgrade`` to the current Alembic revision, ``current``)."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.common import command_group, console
from harness.store import Store, redacted, resolve_db_url
from harness.store.schema import head_revision

app = command_group("The results database: schema migrations.")

DbOption = Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                              "else SQLite under harness-runs/).")]


@app.command()
def upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to the current schema (a skeleton-era SQLite file is adopted)."""
    store = Store(resolve_db_url(db), create=False)
    try:
        result = store.upgrade(revision)
    finally:
        store.dispose()
    if result.stamped:
        console.print(f"adopted a database without a revision at {result.before or '0001'}")
    if result.changed:
        console.print(f"upgraded {redacted(store.url)} from {result.before or '(empty)'} "
                      f"to {result.after}")
    else:
        console.print(f"{redacted(store.url)} is already at {result.after}")


@app.command()
def current(db: DbOption = None) -> None:
    """Print the database's schema revision and the newest this harness knows."""
    store = Store(resolve_db_url(db), create=False)
    try:
        revision = store.revision()
    finally:
        store.dispose()
    console.print(f"{redacted(store.url)}: revision {revision or '(none)'}; "
                  f"head {head_revision()}")
