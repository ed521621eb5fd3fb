"""``GET /api/v1/scores``: every stored score with its run and hashes, filtered and paged."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Limit, Name, Offset, ScoreFiltersDep, StoreDep
from api.schemas import Page, Score

router = APIRouter(tags=["scores"])


@router.get("/scores")
def list_scores(
    store: StoreDep,
    filters: ScoreFiltersDep,
    run_key: Name = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[Score]:
    """Scores of finished runs (every subset unless ``subset`` is given)."""
    items, total = store.scores(run_key=run_key, **filters.as_kwargs(), limit=limit,
                                offset=offset)
    return Page[Score](items=items, total=total, limit=limit, offset=offset)
