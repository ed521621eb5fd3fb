"""Encoder families (``/families``): Cambrian-1's Figure 4, category averages per encoder
for one setting, measured beside published."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.dashboard.cache import IncludeSmoke, PageCacheDep
from api.dashboard.figures import families_figure
from api.dashboard.render import Row, category_order, render_page, show_smoke_url, smoke_left_out
from api.dashboard.rows import measured_rows, published_rows
from api.deps import StoreDep
from harness.eval import categories as table5
from harness.store.published import beside_measured
from harness.store.summary import Setting

SETTING_SEPARATOR = "|"
"""Joins (recipe, LLM, connector, preset) into the one value of the setting picker."""


def setting_value(s: Setting) -> str:
    return SETTING_SEPARATOR.join((s.recipe, s.llm, s.connector, s.preset))


def setting_choices(settings: Sequence[Setting]) -> list[tuple[str, str]]:
    """Distinct (recipe, LLM, connector, preset), two-stage and most-populated first."""
    counts = Counter(setting_value(s) for s in settings)
    stages = {setting_value(s): s.recipe_stages for s in settings}
    ordered = sorted(counts, key=lambda v: (stages[v] != 2, -counts[v], v))
    return [(v, " · ".join(v.split(SETTING_SEPARATOR)) + f" ({counts[v]} encoders)")
            for v in ordered]


def render_families(settings: Sequence[Setting], published: Sequence[Row], *,
                    setting: str | None = None, include_smoke: bool = False,
                    beside: Sequence[Row] = ()) -> str:
    """Cambrian-1 Figure 4 from measured and/or published category averages."""
    pool = [s for s in settings if include_smoke or not s.smoke]
    choices = setting_choices(pool)
    requested = setting
    if setting not in {v for v, _ in choices}:
        setting = choices[0][0] if choices else None
    chosen = [s for s in pool if setting_value(s) == setting]
    measured = measured_rows(chosen)
    paper = published_rows(published, levels=("category",), kinds=("encoder",))
    for row in paper:
        row["label"] = row["encoder_id"] or row["label"]  # beside the measured bar, if any
    categories = category_order({c for r in [*measured, *paper] for c in r["values"]
                                  if c in table5.categories() or c in r["counts"]})
    has_data = bool(measured or paper)
    figures = {}
    if has_data:
        figures["families"] = families_figure(measured, paper, categories)
    return render_page(
        "families.html", "Families", "Families", figures,
        has_data=has_data, has_published=bool(paper), setting=setting,
        setting_choices=choices, include_smoke=include_smoke,
        smoke_rows=sum(r["smoke"] for r in measured), measured_rows=len(measured),
        # The switch keeps the setting asked for, which may exist only among smoke runs.
        hidden_smoke=len(smoke_left_out(settings, include_smoke)),
        show_smoke_url=show_smoke_url("/families", setting=requested),
        published_sources=sorted({r["source"] for r in paper}),
        beside=[b for b in beside if include_smoke or not b["smoke"]],
    )


router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/families", response_class=HTMLResponse)
def families(store: StoreDep, cache: PageCacheDep,
             setting: Annotated[str | None, Query(max_length=800)] = None,
             smoke: IncludeSmoke = False) -> HTMLResponse:
    def render() -> str:
        settings, published = store.settings(), store.published()
        return render_families(settings, published, setting=setting, include_smoke=smoke,
                               beside=beside_measured(published, settings))

    return HTMLResponse(cache.get(store, ("/families", setting, smoke), render))
