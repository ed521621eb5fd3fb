"""HTML pages of the dashboard, rendered from leaderboard rows with autoescaping Jinja templates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from dashboard.figures import group_comparison

PLOTLY_JS_URL = "/static/plotly.min.js"
SMOKE_COMMAND = "harness sweep --encoders all --preset smoke"
PREFERRED_BENCHMARK = "probe"

_env = Environment(
    loader=PackageLoader("dashboard", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
)


def render_index(
    rows: Sequence[dict[str, Any]], benchmark: str | None = None, subset: str = "overall"
) -> str:
    """The leaderboard page: a comparison figure for one benchmark and a table of all rows."""
    benchmarks = sorted({r["benchmark"] for r in rows})
    if benchmark is None:
        benchmark = (
            PREFERRED_BENCHMARK
            if PREFERRED_BENCHMARK in benchmarks
            else next(iter(benchmarks), PREFERRED_BENCHMARK)
        )
    figure = None
    if rows:
        # Through JSON and back to plain data, so the template's tojson filter can embed it
        # with <, > and & escaped: a raw to_json() string inside <script> is not HTML-safe.
        figure = json.loads(group_comparison(rows, benchmark=benchmark, subset=subset).to_json())
    table = sorted(rows, key=lambda r: (r["benchmark"], r["metric"], -r["value"], r["encoder_id"]))
    return _env.get_template("index.html").render(
        rows=table,
        smoke_rows=sum(r["smoke"] for r in rows),
        benchmark=benchmark,
        benchmarks=benchmarks,
        subset=subset,
        figure=figure,
        plotly_js_url=PLOTLY_JS_URL,
        smoke_command=SMOKE_COMMAND,
    )
