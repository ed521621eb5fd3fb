"""``GET /api/v1/encoders``: the encoders that have runs in the store, with their provenance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from api.deps import Limit, Name, Offset, StoreDep
from api.schemas import Encoder, Page

router = APIRouter(tags=["encoders"])


@router.get("/encoders")
def list_encoders(store: StoreDep, group: Name = None, supervision: Name = None,
                  architecture: Name = None, limit: Limit = 100, offset: Offset = 0
                  ) -> Page[Encoder]:
    items, total = store.encoders(group=group, supervision=supervision,
                                  architecture=architecture, limit=limit, offset=offset)
    return Page[Encoder](items=items, total=total, limit=limit, offset=offset)


@router.get("/encoders/{encoder_id}", responses={404: {"description": "Unknown encoder"}})
def get_encoder(store: StoreDep,
                encoder_id: Annotated[str, Path(max_length=200, pattern=r"^[^\x00]*$")]
                ) -> Encoder:
    encoder = store.encoder(encoder_id)
    if encoder is None:
        raise HTTPException(404, f"no encoder {encoder_id!r} in the store")
    return Encoder(**encoder)
