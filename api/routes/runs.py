"""``GET /api/v1/runs``: every ingested run with its status, without its config."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import StoreDep

router = APIRouter(tags=["runs"])


class Run(BaseModel):
    run_key: str
    encoder_id: str
    tiny: bool
    smoke: bool
    recipe: str
    llm: str
    connector: str
    seed: int
    preset: str
    status: str
    started_at: str | None
    finished_at: str | None
    wall_seconds: float
    host: str
    job_id: str
    code_version: str
    error: str | None
    ingested_at: str | None


@router.get("/runs")
def get_runs(store: StoreDep, status: Literal["done", "failed"] | None = None) -> list[Run]:
    return [Run(**run) for run in store.runs(status=status)]
