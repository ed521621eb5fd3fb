"""Liveness and database reachability, for load balancers and ``harness serve`` users."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import StoreDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(store: StoreDep) -> dict[str, str]:
    with store.session() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}
