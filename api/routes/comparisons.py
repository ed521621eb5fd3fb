"""``GET /api/v1/comparisons/{kind}``: what unfreezing the encoder, or adding the adapter
(align) stage, changes for each encoder, per benchmark and category."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Name, StoreDep
from api.schemas import Comparison
from harness.store.summary import ComparisonKind, comparisons, filter_settings

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
