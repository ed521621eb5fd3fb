"""The app factory: ``create_app(settings)`` builds the store and mounts one router per resource."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

import harness
from api.dashboard import pages
from api.guards import BodyLimit, host_allow_list
from api.routes import (
    comparisons,
    docs,
    encoders,
    export,
    health,
    leaderboard,
    published,
    results,
    runs,
    scores,
    triage,
)
from api.settings import Settings
from harness.errors import HarnessError
from harness.store import Store

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    hosts = host_allow_list(settings.allowed_hosts)  # a bad name is refused before any work
    # The engine is made here, not at import, so each app (and each test) gets its own database.
    store = Store(settings.db_url)

    page_cache = pages.PageCache()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await anyio.to_thread.run_sync(pages.warm_up, store, page_cache)
        except Exception as exc:  # the server still starts: each page reports its own error
            log.warning("dashboard warm-up failed: %s", exc)
        if settings.freeze_after_warm_up:
            gc.collect()  # garbage first: what is frozen is never collected
            gc.freeze()
        yield
        store.dispose()

    app = FastAPI(
        title="Encoder Harness",
        version=harness.__version__,
        summary="Which image encoder makes the best eyes for a multimodal LLM.",
        description=(
            "Measured scores of MLLMs trained on each image encoder, with full provenance, and "
            "published reference scores kept apart from them. Read routes are open; "
            "`POST /api/v1/results` needs `Authorization: Bearer <token>` and is closed unless "
            "the server was started with a token."
        ),
        lifespan=lifespan,
        # Swagger UI from the installed swagger-ui-bundle package (api/routes/docs.py), never
        # from a CDN: the dashboard and its docs work with no internet.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: a request naming a stranger host meets nothing else.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        return results.document_body(default_openapi())

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.store = store
    app.state.page_cache = page_cache
    app.add_exception_handler(HarnessError, _harness_error)
    app.include_router(health.router)
    for module in (encoders, runs, scores, leaderboard, comparisons, published, triage, export,
                   results):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(docs.router)
    app.include_router(pages.router)
    return app


async def _harness_error(_request: Request, exc: Exception) -> JSONResponse:
    # A user-facing error from the library (a bad value, named with the valid ones): the
    # client's fault, never a 500.
    return JSONResponse({"detail": str(exc)}, status_code=400)
