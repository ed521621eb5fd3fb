"""The leaderboard (``/``): a row per setting, seeds averaged, and per published subject,
sortable and filterable in the page, above the group comparison figure."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from api.dashboard.cache import PageCacheDep
from api.dashboard.figures import group_comparison
from api.dashboard.render import Row, category_order, render_page
from api.dashboard.rows import measured_row, published_rows, score, setting_label
from api.deps import Name, StoreDep
from harness.eval import categories as table5
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.bootstrap import Interval
from harness.lmms.results import EXTERNAL_MODEL
from harness.store.summary import Setting, noise_marks

PREFERRED_BENCHMARK = "probe"
"""The benchmark the group comparison draws unless the page is asked for another."""

CPU_SCALE_BADGE = Markup(
    ' <span class="badge cpu-scale" title="real weights trained at CPU scale (a small real '
    'LLM on hundreds of samples): real results, not comparable with paper-scale ones">'
    'CPU-scale</span>')
NOISE_MARK_TITLE = ("≈: within noise of the next-better setting on this column (the 95% "
                    "interval of the gap, over seeds and questions, holds 0)")


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
                entry = KeptRow(s, row, score(row))
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
    order = {c: i for i, c in enumerate(category_order(categories | set(benchmarks.values())))}
    columns = [{"name": c, "label": f"{c} (avg)", "category": c, "average": True,
                "title": f"{c}: plain mean of its benchmarks"} for c in category_order(categories)]
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
        # An lmms-eval run of another model (harness import-lmms-eval) is external, not a
        # paper's number.
        badge = "external" if r.get("subject_kind") == EXTERNAL_MODEL else "published"
        parts.append(f'<td>{e(r["label"])} <span class="badge published" '
                     f'title="{e(r["source"])}">{badge}</span></td>')
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
    paper = sorted(published_rows(published), key=lambda r: (r["source"], -score(r)))
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
    return render_page(
        "leaderboard.html", "Leaderboard", "Leaderboard", figures,
        rows=rows, row_html=html, columns=columns,
        choices=choices,
        categories=[c["name"] for c in columns if c.get("average")],
        smoke_rows=sum(r["smoke"] for r in measured), measured_rows=len(measured),
        published_rows=len(paper), published_sources=sorted({r["source"] for r in paper}),
        figure=bool(figures),
    )


router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def leaderboard(store: StoreDep, cache: PageCacheDep, benchmark: Name = None) -> HTMLResponse:
    return HTMLResponse(cache.get(store, ("/", benchmark), lambda: render_leaderboard(
        store.settings(), store.published(), benchmark)))
