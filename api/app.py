"""The app factory: ``create_app(settings)`` builds the store and mounts one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

import harness
from api.routes import health, leaderboard, pages, runs
from harness.store import Store


@dataclass(frozen=True)
class Settings:
    db_url: str
    token: str | None = None
    """Guards the write routes once there are any; the read routes stay open."""


def create_app(settings: Settings) -> FastAPI:
    # The engine is made here, not at import, so each app (and each test) gets its own database.
    store = Store(settings.db_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.dispose()

    app = FastAPI(
        title="Encoder Harness",
        version=harness.__version__,
        summary="Which image encoder makes the best eyes for a multimodal LLM.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.include_router(health.router)
    app.include_router(leaderboard.router, prefix="/api/v1")
    app.include_router(runs.router, prefix="/api/v1")
    app.include_router(pages.router)
    return app
