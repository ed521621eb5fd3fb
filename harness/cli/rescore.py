"""``harness rescore``: grade finished runs' stored predictions again under today's scoring
rules, replacing their scores in the records and the store; run keys stay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.common import console
from harness.errors import HarnessError
from harness.record import RECORD_FILE
from harness.store import Store, ingest_paths, resolve_db_url
from harness.sweep.inputs import run_root
from harness.sweep.rescore import rescore_run


def rescore(
    keys: Annotated[list[str] | None, typer.Argument(
        metavar="[KEYS]...", help="Run keys to re-score (or --all).")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every finished run under the "
                                                         "run root.")] = False,
    root: Annotated[Path | None, typer.Option(help="Run root (default $HARNESS_ROOT, else "
                                              "./harness-runs).")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default $HARNESS_DB_URL, "
                                           "else SQLite under harness-runs/).")] = None,
) -> None:
    """Grade the stored predictions again; nothing is trained or generated anew."""
    runs = run_root(root) / "runs"
    if bool(keys) == all_runs:
        raise HarnessError("name run keys or give --all (not both)")
    if all_runs:
        folders = sorted(p.parent for p in runs.glob(f"*/{RECORD_FILE}"))
    else:
        folders = [runs / key for key in keys or []]
        unknown = [f.name for f in folders if not (f / RECORD_FILE).is_file()]
        if unknown:
            found = sorted(p.parent.name for p in runs.glob(f"*/{RECORD_FILE}"))
            raise HarnessError(f"no finished run {unknown[0]!r} under {runs}; valid: "
                               f"{', '.join(found) or '(none)'}")
    store = Store(resolve_db_url(db))
    for folder in folders:
        try:
            report = rescore_run(folder)
        except HarnessError as exc:
            if not all_runs:
                raise
            console.print(f"skipped {folder.name}: {exc}", highlight=False)
            continue
        ingest_paths(store, [folder])
        moved = ", ".join(f"{b} {m} {old:.1f} -> {new:.1f}" for b, m, old, new in
                          report.changed) or "no overall score moved"
        missing = "".join(f"; {b}: {n} items without a prediction, counted wrong"
                          for b, n in report.missing.items())
        console.print(f"{report.run_key}: {report.scores} scores re-scored ({moved}){missing}",
                      highlight=False)
