"""The app factory: ``create_app(settings)`` builds the store and mounts one router per resource."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

import harness
from api.dashboard import pages
from api.guards import DEFAULT_MAX_BODY_BYTES, MAX_BODY_OPTION, BodyLimit, host_allow_list
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
from harness.errors import HarnessError
from harness.store import Store

TOKEN_ENV = "HARNESS_API_TOKEN"
HOSTS_ENV = "HARNESS_ALLOWED_HOSTS"
MAX_BODY_ENV = "HARNESS_MAX_BODY_BYTES"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    db_url: str
    token: str | None = None
    """Opens the write routes (``POST /api/v1/results``) to bearers of this token; without one
    they stay closed. The read routes are always open."""
    freeze_after_warm_up: bool = False
    """Move every object alive after the start-up warm-up out of the garbage collector's
    sight (``gc.freeze``), for a long-lived server: the store's rollup holds a few hundred
    thousand objects, and a full collection walking them took 140 ms, in the middle of
    whichever page view set it off. Off for apps made in tests."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names served besides 127.0.0.1, localhost and [::1] (``harness serve
    --allowed-host``, ``$HARNESS_ALLOWED_HOSTS``): the name a reverse proxy forwards, say. Any
    other Host header gets 400, so a web page cannot reach this server by DNS rebinding."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """The largest request body accepted (a result record is a few kB); a larger one gets 413
    before it is read whole."""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise HarnessError(f"{MAX_BODY_OPTION} {self.max_body_bytes}: give at least 1")

    @classmethod
    def with_env_token(cls, db_url: str, token: str | None = None, **options: Any) -> Settings:
        return cls(db_url=db_url, token=token or os.environ.get(TOKEN_ENV) or None, **options)


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
