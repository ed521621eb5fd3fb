"""``harness ingest``: load result records from run folders into the store (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from harness.cli.common import console, run_root
from harness.errors import HarnessError
from harness.store import Store, find_records, ingest_paths, resolve_db_url


def ingest(
    root: Annotated[Path | None, typer.Argument(help="Run root (default ./harness-runs).")]
    = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
) -> None:
    """Load every record.json under the run root into the database."""
    root = run_root(root)
    if not root.is_dir():
        raise HarnessError(f"no run folder at {root}")
    store = Store(resolve_db_url(db))
    report = ingest_paths(store, find_records(root))
    console.print(f"ingested {report.added} new, {report.updated} updated,"
                  f" {report.unchanged} unchanged records into {store.url}")
    for path, reason in report.errors:
        console.print(f"[red]skipped[/] {escape(str(path))}: {escape(str(reason))}")
    if report.errors:
        raise typer.Exit(1)
