"""The OpenAPI docs (Swagger UI at /docs, ReDoc at /redoc) with their scripts served from the
installed ``fastapi-offline`` package: FastAPI's defaults load them from a CDN, which fails
with no internet."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from harness.errors import HarnessError

router = APIRouter(include_in_schema=False)

STATIC = "/static/docs"
Asset = Literal["swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"]
MEDIA = {".js": "application/javascript", ".css": "text/css", ".png": "image/png"}


@cache
def docs_assets() -> FilePath:
    path = FilePath(str(files("fastapi_offline") / "static"))
    if not (path / "swagger-ui-bundle.js").is_file():
        raise HarnessError(f"Swagger UI assets not found in {path}; reinstall fastapi-offline")
    return path


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC}/favicon.png",
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API reference",
        redoc_js_url=f"{STATIC}/redoc.standalone.js",
        redoc_favicon_url=f"{STATIC}/favicon.png",
        with_google_fonts=False,
    )


@router.api_route(STATIC + "/{name}", methods=["GET", "HEAD"])
def docs_asset(name: Annotated[Asset, Path()]) -> FileResponse:
    path = docs_assets() / name
    return FileResponse(path, media_type=MEDIA[path.suffix],
                        headers={"Cache-Control": "public, max-age=86400"})
