"""``harness status`` and ``harness cancel``: every run's state (planned, queued, running,
preempted, done, failed) with its job, stage, step and last error; and stopping runs."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, console, print_json, print_table
from harness.combination import spelled_out
from harness.errors import HarnessError
from harness.sweep.inputs import run_root, split_names
from harness.sweep.tracking import RunView, view_runs

STATES = ("planned", "queued", "running", "preempted", "done", "failed")
_COLOURS = {"done": "green", "failed": "red", "running": "cyan", "preempted": "yellow",
            "queued": "white", "planned": "dim"}


def status(
    root: Annotated[Path | None, typer.Option(help="Run root (default $HARNESS_ROOT, else "
                                              "./harness-runs).")] = None,
    state: Annotated[str | None, typer.Option(
        help=f"Only runs in these states (comma-separated: {', '.join(STATES)}).")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json (for scripts).")]
    = "table",
) -> None:
    """Every planned run's state, SLURM (or local) job id, current stage and step, last error."""
    check_format(format)
    wanted = split_names(state) if state else list(STATES)
    for name in wanted:
        if name not in STATES:
            raise HarnessError(f"unknown state {name!r}; valid: {', '.join(STATES)}")
    folder = run_root(root)
    views = [v for v in view_runs(folder) if v.state in wanted]
    counts = Counter(v.state for v in views)
    if format == "json":
        print_json({"root": str(folder), "counts": {s: counts.get(s, 0) for s in STATES},
                    "runs": [asdict(v) for v in views]})
        return
    if not views:
        console.print(f"No runs under {folder}/runs" + (f" in state {state}" if state else "")
                      + ".")
        return
    _print_views(views)
    console.print(", ".join(f"{counts[s]} {s}" for s in STATES if counts.get(s)))


def _print_views(views: list[RunView]) -> None:
    # A combination of encoders (a+b) shows one encoder per line.
    # The connector column shows only when runs differ in it (e.g. one combination under sva
    # and under concat).
    several = len({v.connector for v in views}) > 1
    rows = [{"key": v.key, "encoder": spelled_out(v.encoder, "\n+ "),
             "connector": v.connector if several else "", "recipe": v.recipe,
             "seed": "" if v.seed is None else str(v.seed),
             "state": f"[{_COLOURS[v.state]}]{v.state}[/]", "job": v.job_id, "stage": v.stage,
             "step": f"{v.step}/{v.total}" if v.step is not None and v.total else "",
             "error": v.error or ""} for v in views]
    # Columns nobody has a value in are left out, so the table fits a terminal.
    names = [n for n in rows[0] if n in ("key", "state") or any(r[n] for r in rows)]
    table = Table()
    for name in names:
        # Keys and job ids are what a user copies into `harness cancel`: never cut them.
        width = {"key": 12, "state": 9, "job": max(len(v.job_id) for v in views)}.get(name)
        table.add_column(name, min_width=width, overflow="fold")
    for row in rows:
        table.add_row(*(row[n] for n in names))
    print_table(table)


def cancel(
    keys: Annotated[list[str] | None, typer.Argument(help="Run keys to cancel.")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Cancel every run in flight.")]
    = False,
    root: Annotated[Path | None, typer.Option(help="Run root (default $HARNESS_ROOT, else "
                                              "./harness-runs).")] = None,
) -> None:
    """Cancel runs in flight (scancel on SLURM); each gets a failed record, so a later sweep
    leaves it alone unless asked with --rerun-failed."""
    if bool(keys) == all_runs:
        raise HarnessError("name the runs to cancel (keys from `harness status`) or pass --all")
    # deferred: the driver brings the training code (torch), which `status` never needs.
    from harness.sweep.driver import cancel_runs

    cancelled = cancel_runs(run_root(root), None if all_runs else list(keys or []))
    if not cancelled:
        console.print("Nothing in flight to cancel.")
        return
    for key, job_id in cancelled:
        console.print(f"cancelled {key} (job {job_id})")
