"""``GET /api/v1/published``: published reference scores (a paper's figures and tables), and
``/published/beside``: each next to your runs of the same encoder, with the difference."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.deps import Name, StoreDep
from api.schemas import Beside, Published
from harness.store.published import beside_measured
from harness.store.summary import filter_settings

router = APIRouter(tags=["published"])


@router.get("/published")
def list_published(store: StoreDep, collection: Name = None, encoder: Name = None,
                   subject: Name = None,
                   level: Literal["benchmark", "category", "average"] | None = None,
                   ) -> list[Published]:
    """Published numbers as published (MME-P on its 2000-point scale), with their source."""
    return [Published(**p) for p in store.published(collection=collection, encoder=encoder,
                                                    subject=subject, level=level)]


@router.get("/published/beside")
def published_beside(store: StoreDep, encoder: Name = None, include_smoke: bool = True
                     ) -> list[Beside]:
    """Each linked published category average beside every measured setting of that encoder
    (same number of training stages where the source states it)."""
    settings = filter_settings(store.settings(), encoder=encoder, include_smoke=include_smoke)
    return [Beside(**b) for b in beside_measured(store.published(encoder=encoder), settings)]
