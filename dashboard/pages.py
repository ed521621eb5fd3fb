"""The dashboard's HTML pages, rendered from store data with autoescaping Jinja templates.

Each ``render_*`` is a pure function of plain data (settings, published rows, runs), so the
pages are tested without a server; ``api/routes/pages.py`` fetches the data and serves them.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

import plotly.io
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from dashboard.figures import (
    Figure,
    benchmark_heatmap,
    deltas_figure,
    encoder_label,
    families_figure,
    group_comparison,
    loss_curves,
    vision_reliance_figure,
)
from harness.eval import categories as table5
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.bootstrap import Interval
from harness.eval.protocols import PROTOCOLS
from harness.store.summary import ComparisonKind, Setting, comparisons, noise_marks

PLOTLY_JS_URL = "/static/plotly.min.js"
STATIC_URL = "/static"
SMOKE_COMMAND = "harness sweep --encoders all --preset smoke"
PREFERRED_BENCHMARK = "probe"
NAV = [("/", "Leaderboard"), ("/families", "Families"), ("/recipes", "Recipes"),
       ("/benchmarks", "Benchmarks"), ("/runs", "Runs"), ("/docs", "API")]
SETTING_SEPARATOR = "|"
SMOKE_PARAM = "smoke"
"""The query parameter (``smoke=true``) that makes a page include smoke runs."""
CPU_SCALE_BADGE = Markup(
    ' <span class="badge cpu-scale" title="real weights trained at CPU scale (a small real '
    'LLM on hundreds of samples): real results, not comparable with paper-scale ones">'
    'CPU-scale</span>')
NOISE_MARK_TITLE = ("≈: within noise of the next-better setting on this column (the 95% "
                    "interval of the gap, over seeds and questions, holds 0)")

_env = Environment(
    loader=PackageLoader("dashboard", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
)

Row = dict[str, Any]


def _render(template: str, title: str, active: str, figures: dict[str, Figure] | None = None,
            **context: Any) -> str:
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


def _category_order(names: set[str]) -> list[str]:
    known = [c for c in table5.categories() if c in names]
    return known + sorted(names - set(known))


# -- leaderboard ----------------------------------------------------------------------------


def setting_label(s: Setting) -> str:
    """The encoder id; a combination by its members' names and its connector (``SigLIP
    SO400M/14@384 + DINOv2 ViT-L/14@518 (sva)``), its id kept in links and hover."""
    return encoder_label(s.encoder_id, s.connector)


def measured_rows(settings: Sequence[Setting]) -> list[Row]:
    return [measured_row(s) for s in settings]


def measured_row(s: Setting) -> Row:
    categories = s.categories
    return {
        "kind": "measured", "label": setting_label(s), "encoder_id": s.encoder_id,
        "group": s.group, "recipe": s.recipe, "llm": s.llm, "connector": s.connector,
        "preset": s.preset, "smoke": s.smoke, "scale": s.scale, "seeds": s.seeds,
        "values": dict(s.values),
        "partial": {c: not cell.complete for c, cell in categories.items()},
        "std": {b: cell.std for b, cell in s.benchmarks.items()},
        "intervals": {c: (i.low, i.high) for c, i in s.intervals.items()},
        "counts": {c: cell.benchmarks for c, cell in categories.items()},
        "setting": " · ".join((s.recipe, s.llm, s.connector, s.preset)),
        "runs_url": "/runs?" + urlencode({"encoder": s.encoder_id}),
        "benchmark_categories": {b: c.category for b, c in s.benchmarks.items()},
    }


class LeaderboardRows:
    """Each setting's leaderboard row, its score and its HTML, kept while the Setting object
    is the same one: the store's rollup hands back new objects only for the settings an ingest
    changed, so the first view after it draws those rows alone (with hundreds of settings the
    rows were most of that view's time). Holds only the settings of the latest render."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # By id(): each entry holds its Setting, so no other object can take that id.
        self._kept: dict[int, KeptRow] = {}

    def rows(self, settings: Sequence[Setting]) -> list[KeptRow]:
        with self._lock:
            old = self._kept
        kept = {}
        for s in settings:
            entry = old.get(id(s))
            if entry is None:
                row = measured_row(s)
                entry = KeptRow(s, row, _score(row))
            kept[id(s)] = entry
        with self._lock:
            self._kept = kept
        return [kept[id(s)] for s in settings]


@dataclass
class KeptRow:
    setting: Setting
    row: Row
    score: float
    html: tuple[tuple[Any, ...], Markup] | None = None
    """The row drawn for one list of columns and noise marks (new ones draw it again)."""

    def drawn(self, columns: Sequence[Row], marks: dict[str, bool]) -> Markup:
        key = (tuple(c["name"] for c in columns), tuple(sorted(marks.items())))
        if self.html is None or self.html[0] != key:
            self.html = (key, row_html(self.row, columns, marks))
        return self.html[1]


_LEADERBOARD_ROWS = LeaderboardRows()


def published_rows(published: Sequence[Row], *, levels: Sequence[str] = ("benchmark",
                   "category", "average"), kinds: Sequence[str] | None = None) -> list[Row]:
    """One row per (source, subject): its category averages and per-benchmark values."""
    rows: dict[tuple[str, str], Row] = {}
    for p in published:
        if p["level"] not in levels or (kinds is not None and p["subject_kind"] not in kinds):
            continue
        row = rows.setdefault((p["source"], p["subject"]), {
            "kind": "published", "label": p["subject"], "encoder_id": p["encoder_id"],
            "group": p["group"], "recipe": "", "llm": "", "connector": "", "preset": "",
            "smoke": False, "seeds": 0, "values": {}, "partial": {}, "std": {}, "counts": {},
            "source": p["source"], "subject_kind": p["subject_kind"], "subject": p["subject"],
        })
        column = p["category"] if p["level"] == "category" else p["metric"]
        row["values"][column] = p["value"]
    return list(rows.values())


def _score(row: Row) -> float:
    if row["values"].get("Average") is not None:  # a published table's own overall mean
        return row["values"]["Average"]
    values = [v for c, v in row["values"].items() if c in row["counts"] or c in table5.categories()]
    values = values or list(row["values"].values())
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float("-inf")


def leaderboard_columns(rows: Sequence[Row]) -> list[Row]:
    """Category averages first (Cambrian's order), then benchmarks by category, then the
    published overall ``Average``; each tagged with its category for the category filter."""
    categories: set[str] = set()
    benchmarks: dict[str, str] = {}
    for r in rows:
        # A measured row knows its benchmarks' categories; a published one goes by the
        # paper's table of the sixteen.
        known = r.get("benchmark_categories", {})
        for name in r["values"]:
            if name in table5.categories() or name in r["counts"]:
                categories.add(name)
            elif name != "Average":
                benchmarks.setdefault(name, known.get(name, table5.category_of(name) or ""))
    order = {c: i for i, c in enumerate(_category_order(categories | set(benchmarks.values())))}
    columns = [{"name": c, "label": f"{c} (avg)", "category": c, "average": True,
                "title": f"{c}: plain mean of its benchmarks"} for c in _category_order(categories)]
    for name in sorted(benchmarks, key=lambda b: (order.get(benchmarks[b], 99), b.lower())):
        columns.append({"name": name, "label": name, "category": benchmarks[name],
                        "title": _column_title(name)})
    if any("Average" in r["values"] for r in rows):
        columns.append({"name": "Average", "label": "Average", "category": "",
                        "title": "published: mean of all sixteen benchmarks"})
    return columns


def _column_title(name: str) -> str:
    """A column's tooltip: the scale of a number that is not out of 100 (MME's points)."""
    column = table5.columns().get(name)
    if column is not None:
        scale, said = column.sources[0].scale, "as published, "
    elif name in BENCHMARKS:
        scale, said = BENCHMARKS.get(name).scale, ""
    else:
        return name
    return name if scale == 100.0 else f"{said}out of {scale:g}"


def figure_rows(settings: Sequence[Setting], benchmark: str | None) -> tuple[str | None,
                                                                            list[Row]]:
    """(benchmark, rows for ``group_comparison``): each setting's seed mean on one benchmark
    (the preferred one unless asked), real results only when there are any."""
    benchmarks = {b for s in settings for b in s.benchmarks}
    if benchmark not in benchmarks:
        benchmark = PREFERRED_BENCHMARK if PREFERRED_BENCHMARK in benchmarks else min(
            benchmarks, default=None)
    real = [s for s in settings if not s.smoke]
    rows = []
    for s in real or settings:
        cell = s.benchmarks.get(benchmark or "")
        if cell is None:
            continue
        rows.append({
            "encoder_id": s.encoder_id, "group": s.group, "smoke": s.smoke, "recipe": s.recipe,
            "llm": s.llm, "connector": s.connector, "seed": f"mean of {cell.seeds}",
            "benchmark": benchmark, "subset": "overall", "metric": cell.metric,
            "value": cell.value, "n": cell.items, "chance": cell.chance,
            "interval": _pair(s.intervals.get(benchmark or "")),
            "run_key": "|".join(map(str, s.key)), "label": setting_label(s),
        })
    return benchmark, rows


def _pair(interval: Interval | None) -> tuple[float, float] | None:
    return None if interval is None else (interval.low, interval.high)


def row_html(r: Row, columns: Sequence[Row], marks: dict[str, bool] | None = None) -> Markup:
    """One leaderboard row. Built here rather than in the template: with thousands of rows
    and dozens of columns, a Jinja loop per cell is most of the page's serving time.
    ``marks``: per column, whether the gap to the next-better setting is within noise."""
    e = escape
    classes = " ".join(c for c, on in (("smoke", r["smoke"]),
                                        ("published", r["kind"] == "published")) if on)
    parts = [f'<tr class="{classes}" data-kind="{r["kind"]}" '
             f'data-smoke="{"true" if r["smoke"] else "false"}" data-group="{e(r["group"])}" '
             f'data-recipe="{e(r["recipe"])}" data-llm="{e(r["llm"])}">']
    if r["kind"] == "published":
        parts.append(f'<td>{e(r["label"])} <span class="badge published" '
                     f'title="{e(r["source"])}">published</span></td>')
    else:
        smoke = (' <span class="badge smoke">smoke</span>' if r["smoke"]
                 else CPU_SCALE_BADGE if r.get("scale") == "cpu" else "")
        title = f' title="{e(r["encoder_id"])}"' if r["label"] != r["encoder_id"] else ""
        parts.append(f'<td><a href="{e(r["runs_url"])}"{title}>{e(r["label"])}</a>{smoke}</td>')
    parts.append("".join(f"<td>{e(r[k])}</td>" for k in ("group", "recipe", "llm",
                                                         "connector", "preset")))
    parts.append(f'<td class="num">{r["seeds"] if r["kind"] == "measured" else ""}</td>')
    values, partial, std = r["values"], r["partial"], r["std"]
    intervals, marks = r.get("intervals", {}), marks or {}
    for col in columns:
        name = col["name"]
        v = values.get(name)
        if v is None:
            parts.append("<td></td>")
            continue
        tint = " partial" if partial.get(name) else ""
        said = []
        if name in intervals:
            low, high = intervals[name]
            said.append(f"95% interval {low:.1f}-{high:.1f} (seeds and questions)")
        if std.get(name) is not None:
            said.append(f"± {std[name]:.1f} over seeds")
        if marks.get(name):
            said.append(NOISE_MARK_TITLE)
        title = f' title="{e("; ".join(said))}"' if said else ""
        mark = '<span class="noise-mark">≈</span>' if marks.get(name) else ""
        # data-value: the page sorts by the number, not by the text with its mark.
        parts.append(f'<td class="num{tint}" data-value="{v:.4f}"{title}>{v:.1f}{mark}</td>')
    parts.append("</tr>")
    return Markup("".join(parts))


def _noise_marks(settings: Sequence[Setting], columns: Sequence[str]) -> list[dict[str, bool]]:
    """``summary.noise_marks`` with real and smoke settings ranked apart (smoke rows are
    hidden until asked for, and never a real setting's neighbour)."""
    marks: list[dict[str, bool]] = [{} for _ in settings]
    for smoke in (False, True):
        chosen = [i for i, s in enumerate(settings) if s.smoke == smoke]
        for i, mark in zip(chosen, noise_marks([settings[i] for i in chosen], columns),
                           strict=True):
            marks[i] = mark
    return marks


def render_leaderboard(settings: Sequence[Setting], published: Sequence[Row],
                       benchmark: str | None = None) -> str:
    """The leaderboard: a row per setting (seeds averaged) and per published subject,
    sortable and filterable in the page; smoke rows hidden until asked for."""
    kept = _LEADERBOARD_ROWS.rows(settings)
    measured = [k.row for k in kept]
    paper = sorted(published_rows(published), key=lambda r: (r["source"], -_score(r)))
    # Best first: by the mean of a row's category averages (its benchmarks when it has none).
    kept.sort(key=lambda k: (k.row["smoke"], -k.score, k.row["encoder_id"]))
    rows = [k.row for k in kept] + paper
    columns = leaderboard_columns(rows)
    marks = _noise_marks([k.setting for k in kept], [c["name"] for c in columns])
    html = ([k.drawn(columns, m) for k, m in zip(kept, marks, strict=True)]
            + [row_html(r, columns) for r in paper])
    choices = {k: sorted({r[k] for r in measured if r[k]}) for k in ("group", "recipe", "llm")}
    choices["group"] = sorted(set(choices["group"]) | {r["group"] for r in paper if r["group"]})
    figures = {}
    benchmark, points = figure_rows(settings, benchmark)
    if points and benchmark is not None:
        figures["group-comparison"] = group_comparison(points, benchmark=benchmark)
    return _render(
        "leaderboard.html", "Leaderboard", "Leaderboard", figures,
        rows=rows, row_html=html, columns=columns,
        choices=choices,
        categories=[c["name"] for c in columns if c.get("average")],
        smoke_rows=sum(r["smoke"] for r in measured), measured_rows=len(measured),
        published_rows=len(paper), published_sources=sorted({r["source"] for r in paper}),
        figure=bool(figures),
    )


# -- families -------------------------------------------------------------------------------


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
    categories = _category_order({c for r in [*measured, *paper] for c in r["values"]
                                  if c in table5.categories() or c in r["counts"]})
    has_data = bool(measured or paper)
    figures = {}
    if has_data:
        figures["families"] = families_figure(measured, paper, categories)
    return _render(
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


# -- recipes --------------------------------------------------------------------------------

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
        columns = [c for c in _category_order(names) if c in table5.categories()] or sorted(names)
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
    return _render("recipes.html", "Recipes", "Recipes", figures, sections=sections,
                   include_smoke=include_smoke, has_data=bool(settings),
                   show_smoke_url=show_smoke_url("/recipes"))


# -- benchmarks -----------------------------------------------------------------------------


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
    order = {c: i for i, c in enumerate(_category_order(set(categories.values())))}
    columns = sorted(categories, key=lambda b: (order[categories[b]], b))
    gaps = vision_gaps(pool)
    figures = {}
    if rows:
        figures["benchmark-heatmap"] = benchmark_heatmap(rows, columns)
    if gaps:
        figures["vision-reliance"] = vision_reliance_figure(gaps)
    return _render("benchmarks.html", "Benchmarks", "Benchmarks", figures, rows=rows,
                   gaps=gaps, versions=versions, include_smoke=include_smoke,
                   smoke_rows=sum(s.smoke for s in pool),
                   hidden_smoke=len(smoke_left_out(settings, include_smoke)),
                   show_smoke_url=show_smoke_url("/benchmarks"))


# -- runs -----------------------------------------------------------------------------------

PROTOCOL_TITLES = {p: {"strict": "strict letters"}.get(p, p) for p in PROTOCOLS}
"""Column titles of the run page's scoring-protocol table."""


def render_runs(runs: Sequence[Row], total: int, *, filters: dict[str, str | None],
                choices: dict[str, list[str]], limit: int, offset: int) -> str:
    base = {k: v for k, v in filters.items() if v}

    def page(at: int) -> str:
        return "/runs?" + urlencode({**base, "offset": at, "limit": limit})

    return _render(
        "runs.html", "Runs", "Runs", runs=runs, total=total, filters=filters, choices=choices,
        prev_url=page(max(0, offset - limit)) if offset > 0 else None,
        next_url=page(offset + limit) if offset + limit < total else None,
    )


def render_run(run: Row, predictions: Sequence[Row], protocols: Row | None = None) -> str:
    """One run: provenance, every score with its hashes, how each headline moves with the
    scoring protocol (``harness.store.protocols``, as a dict, or ``{"error": why}``), sample
    predictions, config."""
    curves = loss_curves(run.get("train") or {})
    # The per-step losses are drawn, so the stage facts below the figure leave them out.
    stages = {name: {k: v for k, v in stage.items() if k != "losses"}
              if isinstance(stage, dict) else stage
              for name, stage in (run.get("train") or {}).items()}
    return _render("run.html", f"Run {run['run_key']}", "Runs",
                   {"loss-curves": curves} if curves else None, run=run,
                   predictions=predictions, protocols=protocols,
                   protocol_names=PROTOCOL_TITLES, train_facts=stages)
