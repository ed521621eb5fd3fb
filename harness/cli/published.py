"""``harness import-published``: load a paper's published scores (built in, or a CSV of your
own in the same format) into the store beside your runs, idempotently."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import console, err_console
from harness.errors import HarnessError
from harness.lmms.results import SCORER, read_results
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


def import_lmms_eval_command(
    results: Annotated[Path, typer.Argument(
        help="An lmms-eval results JSON (<output_path>/<model>/<date>_results.json).")],
    model: Annotated[str, typer.Option(
        help="The model these results are of, as the leaderboard should name it.")],
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
) -> None:
    """Load an lmms-eval run's results (of any model) as reference rows: shown beside the
    harness's own, marked external, each metric under a column of its own."""
    read = read_results(results)
    rows = read.reference_rows(model)
    store = Store(resolve_db_url(db))
    try:
        report = import_published(store, rows, f"{SCORER}:{results.name}")
    finally:
        store.dispose()
    console.print(
        f"{model}: {len(read.tasks)} lmms-eval tasks, {report.added} added, {report.updated} "
        f"updated, {report.unchanged} unchanged reference scores in {redacted(store.url)}",
        highlight=False)

