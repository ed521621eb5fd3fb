"""``GET /api/v1/scores``: every stored score with its run and hashes, filtered and paged."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Limit, Name, Offset, StoreDep
from api.schemas import Page, Score

router = APIRouter(tags=["scores"])


@router.get("/scores")
def list_scores(
    store: StoreDep,
    run_key: Name = None,
    encoder: Name = None,
    benchmark: Name = None,
    metric: Name = None,
    subset: Name = None,
    category: Name = None,
    recipe: Name = None,
    llm: Name = None,
    group: Name = None,
    include_smoke: bool = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[Score]:
    """Scores of finished runs (every subset unless ``subset`` is given)."""
    items, total = store.scores(run_key=run_key, encoder=encoder, benchmark=benchmark,
                                metric=metric, subset=subset, category=category, recipe=recipe,
                                llm=llm, group=group, include_smoke=include_smoke, limit=limit,
                                offset=offset)
    return Page[Score](items=items, total=total, limit=limit, offset=offset)
