"""``GET /api/v1/leaderboard``: scores of finished runs on one subset, best first."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict

from api.deps import StoreDep
from harness.store import Store

router = APIRouter(tags=["leaderboard"])


class LeaderboardRow(BaseModel):
    # Attribute docstrings become field descriptions in the OpenAPI schema at /docs.
    model_config = ConfigDict(use_attribute_docstrings=True)

    encoder_id: str
    group: str
    supervision: str
    architecture: str
    tiny: bool
    smoke: bool
    """True for a random-weight tiny twin: never a real score."""
    recipe: str
    llm: str
    connector: str
    seed: int
    benchmark: str
    category: str
    metric: str
    subset: str
    value: float
    n: int
    chance: float | None
    run_key: str


class Leaderboard(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    rows: list[LeaderboardRow]
    smoke_rows: int
    """How many of ``rows`` are random-weight smoke results."""


@router.get("/leaderboard")
def get_leaderboard(
    store: StoreDep,
    benchmark: str | None = None,
    subset: str = "overall",
    include_smoke: bool = True,
) -> Leaderboard:
    rows = store.leaderboard(benchmark=benchmark, subset=subset, include_smoke=include_smoke)
    if not rows:
        _check_known(store, benchmark, subset)
    return Leaderboard(
        rows=[LeaderboardRow(**row) for row in rows],
        smoke_rows=sum(row["smoke"] for row in rows),
    )


def _check_known(store: Store, benchmark: str | None, subset: str) -> None:
    # An empty answer is ambiguous: say which name is unknown rather than return nothing.
    known = store.benchmarks()
    if benchmark is not None and benchmark not in known:
        raise HTTPException(
            404, f"unknown benchmark {benchmark!r}; known: {', '.join(known) or '(none yet)'}"
        )
    subsets = store.subsets(benchmark)
    if known and subset not in subsets:
        raise HTTPException(404, f"unknown subset {subset!r}; known: {', '.join(subsets)}")
