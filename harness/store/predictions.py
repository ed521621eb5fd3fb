"""Read a run's per-item predictions (``predictions/<benchmark>.jsonl`` or
``eval/<benchmark>.jsonl`` in its run folder), when the folder is reachable from here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def read_predictions(run: dict[str, Any], benchmark: str, limit: int, offset: int = 0
                     ) -> tuple[int, list[dict[str, Any]]]:
    """(items in the file, a page of them) for ``run`` as ``Store.run`` returns it."""
    lines = _lines(prediction_path(run, benchmark))
    items = []
    for line in lines[offset:offset + limit]:
        try:
            item = json.loads(line)
        except ValueError:
            item = {"unreadable": line[:500]}
        items.append(item if isinstance(item, dict) else {"value": item})
    return len(lines), items


def read_all_predictions(run: dict[str, Any], benchmark: str) -> list[dict[str, Any]]:
    """Every prediction in the file, for scoring: a line that is not a JSON object is an
    error naming the file and line, never skipped (it would leave the denominator)."""
    path = prediction_path(run, benchmark)
    items = []
    for n, line in enumerate(_lines(path), 1):
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            raise HarnessError(f"{path}:{n}: not a prediction (a JSON object per line)")
        items.append(item)
    return items


def prediction_path(run: dict[str, Any], benchmark: str) -> Path:
    """The predictions file ``run`` recorded under ``benchmark`` (a file stem: ``mmvp``,
    ``mmvp_blind``), checked to lie inside the run folder and to exist."""
    files = {f["benchmark"]: f for f in run["prediction_files"]}
    if benchmark not in files:
        known = ", ".join(files) or "(none recorded)"
        raise HarnessError(f"no predictions for {benchmark!r} in run {run['run_key']}; "
                           f"recorded: {known}")
    check_reachable(run)
    run_dir = Path(run["run_dir"]).resolve()
    path = (run_dir / files[benchmark]["path"]).resolve()
    # The stored relative path is ours (predictions/ or eval/), but never follow one out of
    # the run folder.
    if not path.is_relative_to(run_dir) or not path.is_file():
        raise HarnessError(f"predictions file not reachable from this server: {path}")
    return path


def check_reachable(run: dict[str, Any]) -> None:
    """Refuse a run posted through the API: it has no folder here to read."""
    if not run["run_dir"]:
        raise HarnessError(f"run {run['run_key']} was posted, not ingested from a folder: its "
                           "predictions stay where it ran and are not reachable from here")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
