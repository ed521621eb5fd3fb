"""``harness import-published``: load a paper's published scores (built in, or a CSV of your
own in the same format) into the store beside your runs, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import console, err_console
from harness.errors import HarnessError
from harness.published import BUILTIN, read_builtin, read_published
from harness.store import Store, redacted, resolve_db_url
from harness.store.published import import_published


def import_published_command(
    table: Annotated[str, typer.Argument(
        help=f"A built-in table ({', '.join(BUILTIN)}) or a CSV file in the same format.")],
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
    name: Annotated[str | None, typer.Option(
        help="Collection name for a CSV file (default: the file's name without .csv).")] = None,
    paper: Annotated[str, typer.Option(help="Paper to credit for a CSV without a paper "
                                       "column.")] = "",
) -> None:
    """Load published scores (e.g. Cambrian-1's Figure 4, Tables 2 and 5) into the store."""
    if table in BUILTIN:
        rows, collection = read_builtin(table), table
    else:
        path = Path(table)
        if path.suffix.lower() != ".csv" and not path.exists():
            raise HarnessError(
                f"unknown published table {table!r}: neither built in ({', '.join(BUILTIN)}) "
                "nor a CSV file"
            )
        collection = name or path.stem
        rows = read_published(path, paper=paper or collection)
    store = Store(resolve_db_url(db))
    try:
        report = import_published(store, rows, collection)
    finally:
        store.dispose()
    console.print(
        f"{collection}: {report.added} added, {report.updated} updated, {report.unchanged} "
        f"unchanged published scores in {redacted(store.url)}"
    )
    if report.unlinked:
        err_console.print(
            "note: no registry id for " + ", ".join(report.unlinked)
            + " (shown as published only; add an encoder_id column to link them)"
        )
