"""``harness ingest``: load result records from run folders into the store (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from harness.cli.common import console
from harness.errors import HarnessError
from harness.store import Store, ingest_root, redacted, resolve_db_url
from harness.store.safe_read import FILE_LIMIT, MiB
from harness.sweep.inputs import run_root


def ingest(
    root: Annotated[Path | None, typer.Argument(help="Run root (default ./harness-runs).")]
    = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
    max_file_mb: Annotated[int, typer.Option(
        help="Largest predictions or draws file read beside a record, in MiB; a larger one "
             "is reported and left out.")] = FILE_LIMIT // MiB,
) -> None:
    """Load every record.json under the run root into the database. Symlinked folders are not
    followed (they are listed); an unreadable folder or file is listed and fails the command."""
    root = run_root(root)
    if not root.is_dir():
        raise HarnessError(f"no run folder at {root}")
    if max_file_mb < 1:
        raise HarnessError(f"--max-file-mb {max_file_mb}: must be at least 1")
    url = resolve_db_url(db)
    store = Store(url)
    try:
        report = ingest_root(store, root, file_limit=max_file_mb * MiB)
    finally:
        store.dispose()
    # soft_wrap: paths stay whole on one line, to be copied (the terminal wraps them).
    console.print(f"ingested {report.added} new, {report.updated} updated,"
                  f" {report.unchanged} unchanged records into {escape(redacted(url))}",
                  highlight=False, soft_wrap=True)
    for path, reason in report.skipped:
        console.print(f"[yellow]not followed[/] {escape(str(path))}: {escape(reason)}",
                      highlight=False, soft_wrap=True)
    for path, reason in report.errors:
        console.print(f"[red]skipped[/] {escape(str(path))}: {escape(str(reason))}",
                      highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)
