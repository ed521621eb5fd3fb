"""Read a page of a run's per-item predictions (``predictions/<benchmark>.jsonl`` or
``eval/<benchmark>.jsonl`` in its run folder), when the folder is reachable from here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def read_predictions(run: dict[str, Any], benchmark: str, limit: int, offset: int = 0
                     ) -> tuple[int, list[dict[str, Any]]]:
    """(items in the file, a page of them) for ``run`` as ``Store.run`` returns it."""
    files = {f["benchmark"]: f for f in run["prediction_files"]}
    if benchmark not in files:
        known = ", ".join(files) or "(none recorded)"
        raise HarnessError(f"no predictions for {benchmark!r} in run {run['run_key']}; "
                           f"recorded: {known}")
    if not run["run_dir"]:
        raise HarnessError("this run was posted, not ingested from a folder: its predictions "
                           "stay where it ran")
    run_dir = Path(run["run_dir"]).resolve()
    path = (run_dir / files[benchmark]["path"]).resolve()
    # The stored relative path is ours (predictions/ or eval/), but never follow one out of
    # the run folder.
    if not path.is_relative_to(run_dir) or not path.is_file():
        raise HarnessError(f"predictions file not reachable from this server: {path}")
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    items = []
    for line in lines[offset:offset + limit]:
        try:
            item = json.loads(line)
        except ValueError:
            item = {"unreadable": line[:500]}
        items.append(item if isinstance(item, dict) else {"value": item})
    return len(lines), items
