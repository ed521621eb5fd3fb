"""Recipes (``/recipes``): per recipe trait (unfreezing, the adapter stage), each encoder's
change in score."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.dashboard.cache import IncludeSmoke, PageCacheDep
from api.dashboard.figures import deltas_figure, encoder_label
from api.dashboard.render import Row, category_order, render_page, show_smoke_url, smoke_left_out
from api.deps import StoreDep
from harness.eval import categories as table5
from harness.store.summary import ComparisonKind, Setting, comparisons


class Section(NamedTuple):
    """One comparison on the recipes page."""

    kind: ComparisonKind
    heading: str
    change: str
    """What each bar is: the changed recipe's score minus the base recipe's."""
    div: str
    missing: str
    """What to run when no encoder has both recipes, smoke runs included."""

    @property
    def title(self) -> str:
        return f"{self.heading} ({self.change})"


SECTIONS = (
    Section("unfreezing", "Unfreezing the encoder", "unfrozen − frozen", "unfreeze",
            "No encoder has both a frozen and an unfrozen run with the same number of stages "
            "yet: run e.g. `harness sweep --recipes frozen,unfrozen`."),
    Section("stages", "Adding the adapter stage", "two-stage − one-stage", "stages",
            "No encoder has both a one-stage and a two-stage run yet: add a recipe with only "
            "a [finetune] stage (see recipes/frozen.toml) and sweep both."),
)


def _labelled(items: list[Row], kind: str) -> list[Row]:
    # Encoder ids label the bars, plus whatever tells two bars of one encoder apart: the
    # trait held fixed, the LLM, the preset.
    held = "recipe_stages" if kind == "unfreezing" else "recipe_encoder"
    extra = [k for k in (held, "llm", "connector", "preset")
             if len({c[k] for c in items}) > 1]
    for c in items:
        parts = [f"{c[k]}-stage" if k == "recipe_stages" else str(c[k]) for k in extra]
        c["label"] = " · ".join([encoder_label(c["encoder_id"]), *parts])
    return items


def render_recipes(settings: Sequence[Setting], include_smoke: bool = False) -> str:
    """Per recipe trait, each encoder's change in score; a section with no comparison says
    whether its pair exists among the hidden smoke runs or has still to be run."""
    pool = [s for s in settings if include_smoke or not s.smoke]
    left_out = smoke_left_out(settings, include_smoke)
    sections, figures = [], {}
    for section in SECTIONS:
        rows = _labelled(comparisons(pool, section.kind), section.kind)
        names = {c for r in rows for c in r["deltas"]}
        columns = [c for c in category_order(names) if c in table5.categories()] or sorted(names)
        if rows:
            figures[section.div] = deltas_figure(rows, columns, section.title)
        sections.append({
            "id": section.div, "title": section.title, "change": section.change,
            "rows": rows, "columns": columns, "missing": section.missing,
            "smoke_rows": sum(r["smoke"] for r in rows),
            # comparisons() never pairs a smoke setting with a real one: the hidden
            # comparisons are those among the left-out settings alone.
            "hidden_smoke": len(comparisons(left_out, section.kind)),
        })
    return render_page("recipes.html", "Recipes", "Recipes", figures, sections=sections,
                   include_smoke=include_smoke, has_data=bool(settings),
                   show_smoke_url=show_smoke_url("/recipes"))


router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/recipes", response_class=HTMLResponse)
def recipes(store: StoreDep, cache: PageCacheDep, smoke: IncludeSmoke = False) -> HTMLResponse:
    return HTMLResponse(cache.get(store, ("/recipes", smoke), lambda: render_recipes(
        store.settings(), include_smoke=smoke)))
