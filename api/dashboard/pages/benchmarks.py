"""Benchmarks (``/benchmarks``): every setting's score per benchmark as a heatmap, how much
each benchmark needs the image (score with it minus blind), and the releases scored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.dashboard.cache import IncludeSmoke, PageCacheDep
from api.dashboard.figures import benchmark_heatmap, vision_reliance_figure
from api.dashboard.render import Row, category_order, render_page, show_smoke_url, smoke_left_out
from api.deps import StoreDep
from harness.store.summary import Setting


def vision_gaps(settings: Sequence[Setting]) -> list[Row]:
    """Per benchmark, the mean over settings of (score with image − score blind)."""
    gaps: dict[str, list[float]] = defaultdict(list)
    for s in settings:
        for b, cell in s.benchmarks.items():
            if cell.vision_gap is not None:
                gaps[b].append(cell.vision_gap)
    return [{"benchmark": b, "gap": sum(v) / len(v), "settings": len(v)}
            for b, v in sorted(gaps.items())]


def render_benchmarks(settings: Sequence[Setting], versions: Sequence[Row],
                      include_smoke: bool = False) -> str:
    pool = [s for s in settings if include_smoke or not s.smoke]
    rows = [{"label": f"{s.encoder_id} · {s.recipe} · {s.preset}"
             + (" (smoke)" if s.smoke else ""),
             "values": {b: c.value for b, c in s.benchmarks.items()}} for s in pool]
    categories = {b: c.category for s in pool for b, c in s.benchmarks.items()}
    order = {c: i for i, c in enumerate(category_order(set(categories.values())))}
    columns = sorted(categories, key=lambda b: (order[categories[b]], b))
    gaps = vision_gaps(pool)
    figures = {}
    if rows:
        figures["benchmark-heatmap"] = benchmark_heatmap(rows, columns)
    if gaps:
        figures["vision-reliance"] = vision_reliance_figure(gaps)
    return render_page("benchmarks.html", "Benchmarks", "Benchmarks", figures, rows=rows,
                   gaps=gaps, versions=versions, include_smoke=include_smoke,
                   smoke_rows=sum(s.smoke for s in pool),
                   hidden_smoke=len(smoke_left_out(settings, include_smoke)),
                   show_smoke_url=show_smoke_url("/benchmarks"))


router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/benchmarks", response_class=HTMLResponse)
def benchmarks(store: StoreDep, cache: PageCacheDep, smoke: IncludeSmoke = False
               ) -> HTMLResponse:
    return HTMLResponse(cache.get(store, ("/benchmarks", smoke), lambda: render_benchmarks(
        store.settings(), store.benchmark_versions(include_smoke=smoke), include_smoke=smoke)))
