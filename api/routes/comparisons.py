"""``GET /api/v1/comparisons/{kind}``: what unfreezing the encoder, or adding the adapter
(align) stage, changes for each encoder, per benchmark and category; and ``GET
/api/v1/compare``: is A better than B, beyond the noise of seeds and questions?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Name, StoreDep
from api.schemas import CompareResult, Comparison
from harness.store.compare import report, resolve
from harness.store.summary import ComparisonKind, comparisons, filter_settings

Selector = Annotated[str, Query(min_length=1, max_length=400, pattern=r"^[^\x00]*$",
                                description="A run key, or ENCODER[,recipe=...,llm=...,"
                                            "connector=...,preset=...].")]

router = APIRouter(tags=["comparisons"])


@router.get("/comparisons/{kind}")
def get_comparisons(store: StoreDep, kind: ComparisonKind, group: Name = None,
                    llm: Name = None, encoder: Name = None, preset: Name = None,
                    include_smoke: bool = True) -> list[Comparison]:
    """``unfreezing``: unfrozen minus frozen encoder at equal stages; ``stages``: two-stage
    minus one-stage at equal freezing. Each side is the mean over its seeds and recipes."""
    settings = filter_settings(store.settings(), group=group, llm=llm, encoder=encoder,
                               preset=preset, include_smoke=include_smoke)
    return [Comparison(**c) for c in comparisons(settings, kind)]


@router.get("/compare")
def get_compare(store: StoreDep, a: Selector, b: Selector,
                plan: Annotated[float | None, Query(gt=0, le=100)] = None) -> CompareResult:
    """A minus B per benchmark and category, each with its paired 95% interval over seeds
    and questions and whether it is within noise; with ``plan`` (points), the seeds per side
    that gap needs. A name that matches several settings is answered with their names."""
    return CompareResult(**report(resolve(store, a), resolve(store, b), plan))
