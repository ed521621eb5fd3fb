"""The dashboard's HTML page and the plotly.js it loads, served locally (no CDN, no internet)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import StoreDep
from dashboard.assets import plotly_js_path
from dashboard.pages import render_index

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def index(store: StoreDep, benchmark: str | None = None, subset: str = "overall") -> HTMLResponse:
    rows = store.leaderboard(subset=subset)
    return HTMLResponse(render_index(rows, benchmark=benchmark, subset=subset))


# HEAD too, so caches and link checkers can probe it without the 4.8 MB body.
@router.api_route("/static/plotly.min.js", methods=["GET", "HEAD"])
def plotly_js() -> FileResponse:
    return FileResponse(
        plotly_js_path(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )
