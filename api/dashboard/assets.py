"""plotly.js from the installed plotly package, and the dashboard's own static files, so the
dashboard needs no CDN and no internet."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse

from harness.errors import HarnessError

router = APIRouter(tags=["dashboard"], include_in_schema=False)
CACHE = {"Cache-Control": "public, max-age=86400"}


@cache
def plotly_js_path() -> Path:
    path = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():
        raise HarnessError(f"plotly.min.js not found at {path}; reinstall plotly")
    return path


def static_path(name: str) -> Path:
    """The dashboard's own script and stylesheet, shipped as package data."""
    path = Path(str(files("api.dashboard") / "static" / name))
    if not path.is_file():
        raise HarnessError(f"dashboard asset {name} not found at {path}; reinstall the package")
    return path


# HEAD too, so caches and link checkers can probe it without the 4.8 MB body.
@router.api_route("/static/plotly.min.js", methods=["GET", "HEAD"])
def plotly_js() -> FileResponse:
    return FileResponse(plotly_js_path(), media_type="application/javascript", headers=CACHE)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def dashboard_static(name: Literal["dashboard.js", "dashboard.css"]) -> FileResponse:
    media = "application/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(static_path(name), media_type=media, headers=CACHE)
