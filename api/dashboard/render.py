"""What every dashboard page shares: the Jinja environment (autoescaping), the page frame
(navigation, plotly, the smoke switch) and the small helpers the pages' templates rely on.

A page is one module in ``api/dashboard/pages/`` (its route and its ``render_*``) and one
template in ``api/dashboard/templates/``; see ``api/dashboard/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import plotly.io
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from api.dashboard.figures import Figure
from harness.eval import categories as table5
from harness.store.summary import Setting

PLOTLY_JS_URL = "/static/plotly.min.js"
STATIC_URL = "/static"
SMOKE_COMMAND = "harness sweep --encoders all --preset smoke"
NAV = [("/", "Leaderboard"), ("/families", "Families"), ("/recipes", "Recipes"),
       ("/benchmarks", "Benchmarks"), ("/triage", "Triage"), ("/runs", "Runs"),
       ("/docs", "API")]
SMOKE_PARAM = "smoke"
"""The query parameter (``smoke=true``) that makes a page include smoke runs."""

_env = Environment(
    loader=PackageLoader("api.dashboard", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
)

Row = dict[str, Any]


def render_page(template: str, title: str, active: str,
                figures: dict[str, Figure] | None = None, **context: Any) -> str:
    """A page: ``template`` in the site's frame, ``active`` its navigation entry, each figure
    embedded as JSON under its div's id."""
    # Not validated again here: the figures are plotly's dict form, checked by the tests.
    embedded = {div: html_safe_json(plotly.io.to_json(fig, validate=False))
                for div, fig in (figures or {}).items()}
    return _env.get_template(template).render(
        title=title, active=active, nav=NAV, figures=embedded, plotly_js_url=PLOTLY_JS_URL,
        static=STATIC_URL, smoke_command=SMOKE_COMMAND, smoke_param=SMOKE_PARAM, **context,
    )


def show_smoke_url(path: str, **params: str | None) -> str:
    """``path`` with smoke runs included and the page's other parameters kept (those given a
    value): the switch a page offers when everything it would show is a hidden smoke run."""
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode({**kept, SMOKE_PARAM: 'true'})}"


def smoke_left_out(settings: Sequence[Setting], include_smoke: bool) -> list[Setting]:
    """The settings a page leaves out as smoke runs (none when it includes them): counted in
    the notice it shows when they are all it has."""
    return [] if include_smoke else [s for s in settings if s.smoke]


def html_safe_json(text: str) -> Markup:
    """JSON that can sit inside <script>: the characters HTML gives meaning to are escaped
    as JSON unicode escapes (what Jinja's tojson does), without decoding and re-encoding."""
    for char, code in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("'", "\\u0027")):
        text = text.replace(char, code)
    return Markup(text)


def category_order(names: set[str]) -> list[str]:
    """Cambrian's categories in the paper's order, then any others alphabetically."""
    known = [c for c in table5.categories() if c in names]
    return known + sorted(names - set(known))
