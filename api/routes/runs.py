"""``GET /api/v1/runs``: ingested runs (filtered, paged); one run's detail, its predictions,
and how its scores move with the scoring protocol."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import NAME_PATTERN, Limit, Name, Offset, StoreDep
from api.schemas import Page, Predictions, Run, RunDetail, RunProtocols
from harness.errors import HarnessError
from harness.store.predictions import read_predictions
from harness.store.protocols import run_protocols

router = APIRouter(tags=["runs"])

RunKey = Annotated[str, Path(max_length=64, pattern=NAME_PATTERN)]
MAX_SAMPLE = 200


@router.get("/runs")
def list_runs(
    store: StoreDep,
    status: Literal["done", "failed"] | None = None,
    encoder: Name = None,
    recipe: Name = None,
    llm: Name = None,
    preset: Name = None,
    smoke: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[Run]:
    items, total = store.runs_page(status=status, encoder=encoder, recipe=recipe, llm=llm,
                                   preset=preset, smoke=smoke, limit=limit, offset=offset)
    return Page[Run](items=items, total=total, limit=limit, offset=offset)


@router.get("/runs/{run_key}", responses={404: {"description": "Unknown run"}})
def get_run(store: StoreDep, run_key: RunKey) -> RunDetail:
    run = store.run(run_key)
    if run is None:
        raise HTTPException(404, f"no run {run_key!r} in the store")
    return RunDetail(**run)


@router.get("/runs/{run_key}/predictions/{benchmark}",
            responses={404: {"description": "Unknown run, benchmark, or file not reachable"}})
def get_predictions(
    store: StoreDep,
    run_key: RunKey,
    benchmark: Annotated[str, Path(max_length=100, pattern=NAME_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=MAX_SAMPLE)] = 20,
    offset: Offset = 0,
) -> Predictions:
    """Per-item predictions from the run folder, when this server can reach it."""
    run = store.run(run_key)
    if run is None:
        raise HTTPException(404, f"no run {run_key!r} in the store")
    try:
        total, items = read_predictions(run, benchmark, limit=limit, offset=offset)
    except HarnessError as exc:
        raise HTTPException(404, str(exc)) from None
    return Predictions(run_key=run_key, benchmark=benchmark, total=total, items=items)


@router.get("/runs/{run_key}/protocols",
            responses={404: {"description": "Unknown run, or its folder not reachable"}})
def get_protocols(store: StoreDep, run_key: RunKey) -> RunProtocols:
    """Each benchmark's headline re-scored from the run's stored predictions with strict
    letters only, with the project's reading rule and by option log-likelihood (where that
    was run), and the spread between them."""
    run = store.run(run_key)
    if run is None:
        raise HTTPException(404, f"no run {run_key!r} in the store")
    try:
        found = run_protocols(run)
    except HarnessError as exc:
        raise HTTPException(404, str(exc)) from None
    return RunProtocols.model_validate(dataclasses.asdict(found))
