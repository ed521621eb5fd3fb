"""The dashboard's pages (leaderboard, families, recipes, benchmarks, runs, run detail) and
the scripts they load, all served locally: no CDN, no internet."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import NAME_PATTERN, Name, Offset, StoreDep
from dashboard.assets import plotly_js_path, static_path
from dashboard.pages import (
    PREFERRED_BENCHMARK,
    render_benchmarks,
    render_families,
    render_leaderboard,
    render_recipes,
    render_run,
    render_runs,
)
from harness.errors import HarnessError
from harness.store.predictions import read_predictions
from harness.store.published import beside_measured
from harness.store.summary import headline_metric

router = APIRouter(tags=["dashboard"], include_in_schema=False)

SAMPLE_PREDICTIONS = 10
CACHE = {"Cache-Control": "public, max-age=86400"}


@router.get("/", response_class=HTMLResponse)
def leaderboard(store: StoreDep, benchmark: Name = None) -> HTMLResponse:
    settings = store.settings()
    real = [s for s in settings if not s.smoke]
    benchmarks = {b for s in settings for b in s.benchmarks}
    chosen = benchmark if benchmark in benchmarks else (
        PREFERRED_BENCHMARK if PREFERRED_BENCHMARK in benchmarks else min(benchmarks, default=None))
    figure_rows = store.leaderboard(benchmark=chosen, include_smoke=not real) if chosen else []
    # One metric per figure: the benchmark's headline (never its blind variant).
    headline = headline_metric({r["metric"] for r in figure_rows})
    figure_rows = [r for r in figure_rows if r["metric"] == headline]
    return HTMLResponse(render_leaderboard(settings, store.published(), figure_rows, chosen))


@router.get("/families", response_class=HTMLResponse)
def families(store: StoreDep, setting: Annotated[str | None, Query(max_length=800)] = None,
             smoke: bool = False) -> HTMLResponse:
    settings = store.settings()
    published = store.published()
    return HTMLResponse(render_families(settings, published, setting=setting,
                                        include_smoke=smoke,
                                        beside=beside_measured(published, settings)))


@router.get("/recipes", response_class=HTMLResponse)
def recipes(store: StoreDep, smoke: bool = False) -> HTMLResponse:
    return HTMLResponse(render_recipes(store.settings(), include_smoke=smoke))


@router.get("/benchmarks", response_class=HTMLResponse)
def benchmarks(store: StoreDep, smoke: bool = False) -> HTMLResponse:
    return HTMLResponse(render_benchmarks(store.settings(),
                                          store.benchmark_versions(include_smoke=smoke),
                                          include_smoke=smoke))


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
    return HTMLResponse(render_run(detail, predictions))


# HEAD too, so caches and link checkers can probe it without the 4.8 MB body.
@router.api_route("/static/plotly.min.js", methods=["GET", "HEAD"])
def plotly_js() -> FileResponse:
    return FileResponse(plotly_js_path(), media_type="application/javascript", headers=CACHE)


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def dashboard_static(name: Literal["dashboard.js", "dashboard.css"]) -> FileResponse:
    media = "application/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(static_path(name), media_type=media, headers=CACHE)
