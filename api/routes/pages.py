"""The dashboard's pages (leaderboard, families, recipes, benchmarks, runs, run detail) and
the scripts they load, all served locally: no CDN, no internet."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import NAME_PATTERN, Name, Offset, StoreDep
from dashboard.assets import plotly_js_path, static_path
from dashboard.pages import (
    SMOKE_PARAM,
    render_benchmarks,
    render_families,
    render_leaderboard,
    render_recipes,
    render_run,
    render_runs,
)
from harness.errors import HarnessError
from harness.store import Store
from harness.store.predictions import read_predictions
from harness.store.protocols import run_protocols
from harness.store.published import beside_measured

router = APIRouter(tags=["dashboard"], include_in_schema=False)

SAMPLE_PREDICTIONS = 10
CACHE = {"Cache-Control": "public, max-age=86400"}
PAGE_CACHE_SIZE = 64


class PageCache:
    """Rendered pages keyed by (page, parameters, the store's data version): a page is drawn
    once per change of the data, however often it is viewed. Per app, thread-safe."""

    def __init__(self, size: int = PAGE_CACHE_SIZE) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, store: Store, key: tuple[Any, ...], render: Callable[[], str]) -> str:
        full = (*key, store.data_version())
        with self._lock:
            if full in self._pages:
                self._pages.move_to_end(full)
                return self._pages[full]
        html = render()
        with self._lock:
            self._pages[full] = html
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return html


def page_cache(request: Request) -> PageCache:
    return request.app.state.page_cache  # made by create_app, warmed at start-up


PageCacheDep = Annotated[PageCache, Depends(page_cache)]
IncludeSmoke = Annotated[bool, Query(alias=SMOKE_PARAM)]
"""Whether a page includes smoke runs, under the name its switch and its forms use."""


@router.get("/", response_class=HTMLResponse)
def leaderboard(store: StoreDep, cache: PageCacheDep, benchmark: Name = None) -> HTMLResponse:
    return HTMLResponse(cache.get(store, ("/", benchmark), lambda: render_leaderboard(
        store.settings(), store.published(), benchmark)))


@router.get("/families", response_class=HTMLResponse)
def families(store: StoreDep, cache: PageCacheDep,
             setting: Annotated[str | None, Query(max_length=800)] = None,
             smoke: IncludeSmoke = False) -> HTMLResponse:
    def render() -> str:
        settings, published = store.settings(), store.published()
        return render_families(settings, published, setting=setting, include_smoke=smoke,
                               beside=beside_measured(published, settings))

    return HTMLResponse(cache.get(store, ("/families", setting, smoke), render))


@router.get("/recipes", response_class=HTMLResponse)
def recipes(store: StoreDep, cache: PageCacheDep, smoke: IncludeSmoke = False) -> HTMLResponse:
    return HTMLResponse(cache.get(store, ("/recipes", smoke), lambda: render_recipes(
        store.settings(), include_smoke=smoke)))


@router.get("/benchmarks", response_class=HTMLResponse)
def benchmarks(store: StoreDep, cache: PageCacheDep, smoke: IncludeSmoke = False
               ) -> HTMLResponse:
    return HTMLResponse(cache.get(store, ("/benchmarks", smoke), lambda: render_benchmarks(
        store.settings(), store.benchmark_versions(include_smoke=smoke), include_smoke=smoke)))


def warm_up(store: Store, cache: PageCache) -> None:
    """Render the dashboard's default pages once (at start-up): the first visitor then meets
    neither the aggregate over every score nor the first-use costs of templates and imports."""
    leaderboard(store, cache)
    families(store, cache)
    recipes(store, cache)
    benchmarks(store, cache)
    store.choices()


@router.get("/runs", response_class=HTMLResponse)
def runs(store: StoreDep, encoder: Name = None, recipe: Name = None, llm: Name = None,
         preset: Name = None, status: Literal["done", "failed", ""] | None = None,
         limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Offset = 0) -> HTMLResponse:
    filters = {"encoder": encoder or None, "recipe": recipe or None, "llm": llm or None,
               "preset": preset or None, "status": status or None}
    items, total = store.runs_page(**filters, limit=limit, offset=offset)
    return HTMLResponse(render_runs(items, total, filters=filters, choices=store.choices(),
                                    limit=limit, offset=offset))


@router.get("/runs/{run_key}", response_class=HTMLResponse)
def run(store: StoreDep, run_key: Annotated[str, Path(max_length=64, pattern=NAME_PATTERN)]
        ) -> HTMLResponse:
    detail = store.run(run_key)
    if detail is None:
        raise HTTPException(404, f"no run {run_key!r} in the store")
    predictions = []
    for f in detail["prediction_files"]:
        entry = {**f, "sample": [], "columns": [], "error": None}
        try:
            _, entry["sample"] = read_predictions(detail, f["benchmark"], SAMPLE_PREDICTIONS)
            entry["columns"] = list(dict.fromkeys(k for item in entry["sample"] for k in item))
        except (HarnessError, OSError) as exc:
            entry["error"] = str(exc)
        predictions.append(entry)
    try:
        protocols = dataclasses.asdict(run_protocols(detail))
    except HarnessError as exc:
        protocols = {"error": str(exc), "benchmarks": [], "skipped": []}
    return HTMLResponse(render_run(detail, predictions, protocols))


# HEAD too, so caches and link checkers can probe it without the 4.8 MB body.
@router.api_route("/static/plotly.min.js", methods=["GET", "HEAD"])
def plotly_js() -> FileResponse:
    return FileResponse(plotly_js_path(), media_type="application/javascript", headers=CACHE)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def dashboard_static(name: Literal["dashboard.js", "dashboard.css"]) -> FileResponse:
    media = "application/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(static_path(name), media_type=media, headers=CACHE)
