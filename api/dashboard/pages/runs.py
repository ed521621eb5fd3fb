"""Runs (``/runs``, a filterable page of them) and one run (``/runs/{run_key}``): provenance,
scores with their hashes, scoring protocols, sample predictions, loss curves, config."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from api.dashboard.figures import loss_curves
from api.dashboard.render import Row, render_page
from api.deps import NAME_PATTERN, Name, Offset, StoreDep
from harness.errors import HarnessError
from harness.eval.protocols import PROTOCOLS
from harness.lmms.compare import compare_scorers
from harness.store.predictions import read_predictions
from harness.store.protocols import run_protocols

SAMPLE_PREDICTIONS = 10
"""Predictions shown per benchmark on a run's page."""


PROTOCOL_TITLES = {p: {"strict": "strict letters"}.get(p, p) for p in PROTOCOLS}
"""Column titles of the run page's scoring-protocol table."""


def render_runs(runs: Sequence[Row], total: int, *, filters: dict[str, str | None],
                choices: dict[str, list[str]], limit: int, offset: int) -> str:
    base = {k: v for k, v in filters.items() if v}

    def page(at: int) -> str:
        return "/runs?" + urlencode({**base, "offset": at, "limit": limit})

    return render_page(
        "runs.html", "Runs", "Runs", runs=runs, total=total, filters=filters, choices=choices,
        prev_url=page(max(0, offset - limit)) if offset > 0 else None,
        next_url=page(offset + limit) if offset + limit < total else None,
    )


def render_run(run: Row, predictions: Sequence[Row], protocols: Row | None = None,
               scorers: Sequence[Row] | str = ()) -> str:
    """One run: provenance, every score with its hashes, how each headline moves with the
    scoring protocol (``harness.store.protocols``, as a dict, or ``{"error": why}``), sample
    predictions, config; and where lmms-eval scored the run too, both scorers item by item
    (``harness.lmms.compare``, or why its files could not be read)."""
    curves = loss_curves(run.get("train") or {})
    # The per-step losses are drawn, so the stage facts below the figure leave them out.
    stages = {name: {k: v for k, v in stage.items() if k != "losses"}
              if isinstance(stage, dict) else stage
              for name, stage in (run.get("train") or {}).items()}
    return render_page("run.html", f"Run {run['run_key']}", "Runs",
                   {"loss-curves": curves} if curves else None, run=run,
                   predictions=predictions, protocols=protocols,
                   protocol_names=PROTOCOL_TITLES, train_facts=stages, scorers=scorers)


router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/runs", response_class=HTMLResponse)
def runs(store: StoreDep, encoder: Name = None, recipe: Name = None, llm: Name = None,
         preset: Name = None, status: Literal["done", "failed", ""] | None = None,
         limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Offset = 0) -> HTMLResponse:
    filters = {"encoder": encoder or None, "recipe": recipe or None, "llm": llm or None,
               "preset": preset or None, "status": status or None}
    items, total = store.runs_page(**filters, limit=limit, offset=offset)
    return HTMLResponse(render_runs(items, total, filters=filters, choices=store.choices(),
                                    limit=limit, offset=offset))


@router.get("/runs/{run_key}", response_class=HTMLResponse)
def run(store: StoreDep, run_key: Annotated[str, PathParam(max_length=64, pattern=NAME_PATTERN)]
        ) -> HTMLResponse:
    detail = store.run(run_key)
    if detail is None:
        raise HTTPException(404, f"no run {run_key!r} in the store")
    predictions = []
    for f in detail["prediction_files"]:
        entry = {**f, "sample": [], "columns": [], "error": None}
        try:
            _, entry["sample"] = read_predictions(detail, f["benchmark"], SAMPLE_PREDICTIONS)
            entry["columns"] = list(dict.fromkeys(k for item in entry["sample"] for k in item))
        except (HarnessError, OSError) as exc:
            entry["error"] = str(exc)
        predictions.append(entry)
    try:
        protocols = dataclasses.asdict(run_protocols(detail))
    except HarnessError as exc:
        protocols = {"error": str(exc), "benchmarks": [], "skipped": []}
    try:
        scorers: list[Row] | str = compare_scorers(Path(detail["run_dir"]))
    except (HarnessError, OSError, ValueError, KeyError) as exc:
        scorers = f"lmms-eval's files in this run could not be compared: {exc}"
    return HTMLResponse(render_run(detail, predictions, protocols, scorers))
