"""Pure functions from leaderboard rows (``Store.leaderboard``) to plotly figures.

Figures are plotly's plain dict form (``{"data": [...], "layout": {...}}``), which plotly.js
draws as is: building ``plotly.graph_objects`` validates every property of every trace, and
that cost most of a page's render with thousands of runs. Subplot grids still come from
``make_subplots`` (their layout only, before any trace), and the tests validate every figure
by loading it into ``go.Figure``.
"""

from __future__ import annotations

import copy
import functools
import html
from collections.abc import Sequence
from typing import Any

from plotly.subplots import make_subplots

from harness.combination import is_combination
from harness.published.names import display_name
from harness.record import GROUPS

GROUP_COLORS = {
    "clip": "#1f77b4",
    "ssl": "#ff7f0e",
    "convnext": "#2ca02c",
    "other": "#7f7f7f",
}
SMOKE_NOTE = "random-weight smoke run"
# A plain white look set directly: a named template is deep-copied into every figure, which
# costs more than drawing the data on pages with many charts.
STYLE: dict[str, Any] = {
    "template": None,
    "paper_bgcolor": "#fff",
    "plot_bgcolor": "#fff",
    "font": {"family": "system-ui, sans-serif", "color": "#2a3f5f"},
    "hoverlabel": {"align": "left"},
}

Row = dict[str, Any]
Figure = dict[str, Any]
"""A plotly figure as a plain dict: ``data`` (traces) and ``layout``."""

def encoder_label(encoder_id: str, connector: str = "") -> str:
    """An encoder's id; a combination (``a+b``) by its members' names joined with ``' + '``
    (the paper's names where known, else the ids), with its connector when given."""
    if not is_combination(encoder_id):
        return encoder_id
    return display_name(encoder_id) + (f" ({connector})" if connector else "")


def group_comparison(
    rows: Sequence[Row], benchmark: str = "probe", subset: str = "overall"
) -> Figure:
    """Encoders of each recipe as points, one trace (color) per encoder group.

    Smoke rows get hollow markers and a note in hover, legend and title; a dashed line marks
    the chance level where the rows carry one.
    """
    rows = [r for r in rows if r["benchmark"] == benchmark and r["subset"] == subset]
    settings = _setting_labels(rows)
    traces = []
    for group in _groups_present(rows):
        # Best first within a group, so each recipe's block reads like a ranking.
        members = sorted(
            (r for r in rows if _group(r) == group),
            key=lambda r: (settings[r["run_key"]], -r["value"], r["encoder_id"]),
        )
        all_smoke = all(r["smoke"] for r in members)
        traces.append({
            "type": "scatter",
            "name": f"{group} ({SMOKE_NOTE})" if all_smoke else group,
            "legendgroup": group,
            "mode": "markers",
            # Two-level axis: recipe outside, encoder inside, so groups stay side by side.
            "x": [
                [settings[r["run_key"]] for r in members],
                [r.get("label") or r["encoder_id"] for r in members],
            ],
            "y": [r["value"] for r in members],
            **_error_bars([r["value"] for r in members],
                          [r.get("interval") for r in members]),
            "marker": {
                "color": GROUP_COLORS.get(group, GROUP_COLORS["other"]),
                "size": 11,
                "symbol": ["circle-open" if r["smoke"] else "circle" for r in members],
                "line": {"width": 2},
            },
            "hovertext": [_hover(r) for r in members],
            "hoverinfo": "text",
        })
    chances = sorted({r["chance"] for r in rows if r.get("chance") is not None})
    title = f"{benchmark} · {subset}"
    if any(r["smoke"] for r in rows):
        title += f"<br><sub>hollow markers: {SMOKE_NOTE}s (random weights, not real scores)</sub>"
    return {"data": traces, "layout": {
        **STYLE,
        "title": {"text": title},
        "yaxis": {"title": {"text": f"{_metric(rows)} (0-100)"}},
        "legend": {"title": {"text": "encoder group"}},
        "shapes": [_hline(y, dash="dash") for y in chances],
        "annotations": [{"text": f"chance {y:g}", "xref": "x domain", "x": 0, "yref": "y",
                         "y": y, "xanchor": "left", "yanchor": "bottom", "showarrow": False}
                        for y in chances],
    }}


def _interval_text(interval: Sequence[float]) -> str:
    return f"95% interval {interval[0]:.1f}-{interval[1]:.1f} (seeds and questions)"


def _error_bars(values: Sequence[float], intervals: Sequence[Sequence[float] | None],
                axis: str = "y") -> dict[str, Any]:
    """A trace's ``error_y`` (or ``error_x``) from 95% intervals, where any point has one; a
    point without one gets no bar."""
    if not any(intervals):
        return {}
    plus = [None if i is None else i[1] - v for v, i in zip(values, intervals, strict=True)]
    minus = [None if i is None else v - i[0] for v, i in zip(values, intervals, strict=True)]
    return {f"error_{axis}": {"type": "data", "symmetric": False, "array": plus,
                        "arrayminus": minus, "thickness": 1.2, "width": 3,
                        "color": "#444"}}


def _hline(y: float, dash: str = "solid") -> dict[str, Any]:
    """A horizontal line across the plot at ``y`` (what ``Figure.add_hline`` draws)."""
    return {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": y,
            "y1": y, "line": {"color": "#444", "dash": dash}}


def _subplot_grid(rows: int, titles: Sequence[str], vertical_spacing: float) -> tuple[
        Figure, list[tuple[str, str]]]:
    """A column of ``rows`` panels sharing the x axis: plotly's own layout for it (a fresh
    dict, no traces) and, per panel, the (x, y) axis names its traces go on."""
    layout, axes = _grid(rows, tuple(titles), vertical_spacing)
    return copy.deepcopy(layout), list(axes)


@functools.lru_cache(maxsize=64)
def _grid(rows: int, titles: tuple[str, ...], vertical_spacing: float) -> tuple[
        Figure, tuple[tuple[str, str], ...]]:
    # make_subplots applies the default template to a whole figure (tens of milliseconds), and
    # pages ask for the same few grids again and again: keep them.

    grid = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=list(titles),
                         vertical_spacing=vertical_spacing)
    layout = {k: v for k, v in grid.to_plotly_json()["layout"].items() if k != "template"}
    axes = []
    for row in range(1, rows + 1):
        subplot = grid.get_subplot(row, 1)
        axes.append((subplot.xaxis.plotly_name.replace("axis", ""),
                     subplot.yaxis.plotly_name.replace("axis", "")))
    return layout, tuple(axes)


def _every_axis(layout: dict[str, Any], prefix: str, **props: Any) -> None:
    """Set ``props`` on every ``xaxis*`` or ``yaxis*`` of a layout (``update_xaxes``)."""
    for name, axis in layout.items():
        if name.startswith(prefix):
            axis.update(props)


def _group(row: Row) -> str:
    return row["group"] if row["group"] in GROUP_COLORS else "other"


def _groups_present(rows: Sequence[Row]) -> list[str]:
    present = {_group(r) for r in rows}
    return [g for g in GROUPS if g in present]


def _setting_labels(rows: Sequence[Row]) -> dict[str, str]:
    """Recipe per run, plus LLM and connector when they vary, so unlike runs never share a slot."""
    varying = [k for k in ("llm", "connector") if len({r[k] for r in rows}) > 1]
    return {r["run_key"]: " / ".join([r["recipe"], *(r[k] for k in varying)]) for r in rows}


def _metric(rows: Sequence[Row]) -> str:
    metrics = sorted({r["metric"] for r in rows})
    return " / ".join(metrics) or "score"


def _hover(row: Row) -> str:
    label = row.get("label") or row["encoder_id"]
    lines = [f"<b>{html.escape(label)}</b>"]
    if label != row["encoder_id"]:
        lines.append(html.escape(row["encoder_id"]))
    lines += [
        f"{html.escape(row['metric'])}: {row['value']:.1f}",
        *([] if not row.get("interval") else [_interval_text(row["interval"])]),
        f"n = {row['n']}",
        f"recipe {html.escape(row['recipe'])}, seed {html.escape(str(row['seed']))}",
    ]
    if row["smoke"]:
        lines.append(f"<i>{SMOKE_NOTE}: not a real score</i>")
    return "<br>".join(lines)


# -- families (Cambrian Figure 4), recipes, benchmarks ---------------------------------------

PUBLISHED_PATTERN = "/"
"""Published bars are hatched (and outlined), so they never pass for measured ones."""
PUBLISHED_KIND = "published"
MEASURED_KIND = "measured"


def _group_of(group: str) -> str:
    return group if group in GROUP_COLORS else "other"


def families_figure(measured: Sequence[Row], published: Sequence[Row],
                    categories: Sequence[str]) -> Figure:
    """Each encoder's category averages, one panel per category, bars coloured by family
    (Cambrian-1 Figure 4). ``measured`` / ``published`` rows: ``label``, ``group``,
    ``values`` (category -> value); published ones also ``source``; measured ones ``smoke``.

    Measured bars are solid, published bars hatched with their own legend entries; every
    trace carries ``meta.kind`` so the page's switch can hide the published ones.
    """
    categories = list(categories) or ["(no category)"]
    layout, axes = _subplot_grid(len(categories), categories, vertical_spacing=0.06)
    labels = _family_order([*measured, *published])
    traces = []
    for kind, rows in ((MEASURED_KIND, measured), (PUBLISHED_KIND, published)):
        for group in GROUPS:
            members = [r for r in rows if _group_of(r["group"]) == group]
            if not members:
                continue
            for i, category in enumerate(categories):
                points = [r for r in members if r["values"].get(category) is not None]
                smoke = kind == MEASURED_KIND and any(r.get("smoke") for r in members)
                name = group if kind == MEASURED_KIND else f"{group} · published"
                if smoke:
                    name += f" ({SMOKE_NOTE})"
                traces.append({
                    "type": "bar",
                    "name": name,
                    "legendgroup": f"{kind}-{group}",
                    "showlegend": i == 0,
                    "offsetgroup": kind,
                    "xaxis": axes[i][0],
                    "yaxis": axes[i][1],
                    "x": [r["label"] for r in points],
                    "y": [r["values"][category] for r in points],
                    **_error_bars([r["values"][category] for r in points],
                                  [r.get("intervals", {}).get(category) for r in points]),
                    "marker": {
                        "color": GROUP_COLORS[group],
                        "pattern": {"shape": PUBLISHED_PATTERN if kind == PUBLISHED_KIND
                                    else "", "fillmode": "overlay", "fgcolor": "#222"},
                        "line": {"color": "#222" if kind == PUBLISHED_KIND
                                 else GROUP_COLORS[group],
                                 "width": 1.5 if kind == PUBLISHED_KIND else 0},
                        "opacity": 0.45 if smoke else 1.0,
                    },
                    "hovertext": [_family_hover(r, category, kind) for r in points],
                    "hoverinfo": "text",
                    "meta": {"kind": kind, "group": group},
                })
    _every_axis(layout, "xaxis", categoryorder="array", categoryarray=labels, tickangle=-40)
    _every_axis(layout, "yaxis", title={"text": "average (0-100)"})
    layout.update(STYLE, barmode="group", height=260 * len(categories) + 160,
                  legend={"title": {"text": "family (hatched: published)"}},
                  margin={"t": 60, "b": 140})
    return {"data": traces, "layout": layout}


def _family_order(rows: Sequence[Row]) -> list[str]:
    """Labels grouped by family (CLIP, SSL, ConvNeXt, other), then by name."""
    order = {g: i for i, g in enumerate(GROUPS)}
    seen: dict[str, tuple[int, str]] = {}
    for r in rows:
        seen.setdefault(r["label"], (order[_group_of(r["group"])], r["label"]))
    return [label for label, _ in sorted(seen.items(), key=lambda kv: kv[1])]


def _family_hover(row: Row, category: str, kind: str) -> str:
    lines = [f"<b>{html.escape(row['label'])}</b>"]
    if row.get("encoder_id") and row["encoder_id"] != row["label"]:
        lines.append(html.escape(row["encoder_id"]))  # a combination's id beside its name
    lines.append(f"{html.escape(category)}: {row['values'][category]:.1f}")
    if row.get("intervals", {}).get(category):
        lines.append(_interval_text(row["intervals"][category]))
    if kind == PUBLISHED_KIND:
        if row.get("subject") and row["subject"] != row["label"]:
            lines.append(f"paper: {html.escape(row['subject'])}")
        lines.append(f"<i>published: {html.escape(row.get('source', ''))}</i>")
    else:
        lines.append(html.escape(row.get("setting", "")))
        if row.get("counts", {}).get(category):
            lines.append(f"{row['counts'][category]} of 4 benchmarks")
        if row.get("smoke"):
            lines.append(f"<i>{SMOKE_NOTE}: not a real score</i>")
    return "<br>".join(lines)


def deltas_figure(comparisons: Sequence[Row], columns: Sequence[str], title: str) -> Figure:
    """Per encoder, the change a recipe trait makes (``deltas``): one panel per column
    (category), bars coloured by family, faded for smoke runs."""
    columns = list(columns) or ["(none)"]
    layout, axes = _subplot_grid(len(columns), columns, vertical_spacing=0.08)
    labels = _family_order(comparisons)
    traces = []
    for group in GROUPS:
        members = [c for c in comparisons if _group_of(c["group"]) == group]
        for i, column in enumerate(columns):
            points = [c for c in members if column in c["deltas"]]
            if not points:
                continue
            traces.append({
                "type": "bar",
                "name": group,
                "legendgroup": group,
                "showlegend": i == 0,
                "xaxis": axes[i][0],
                "yaxis": axes[i][1],
                "x": [c["label"] for c in points],
                "y": [c["deltas"][column] for c in points],
                "marker": {"color": GROUP_COLORS[group],
                           "opacity": [0.45 if c["smoke"] else 1.0 for c in points]},
                "hovertext": [
                    f"<b>{html.escape(c['label'])}</b><br>{html.escape(column)}: "
                    f"{c['deltas'][column]:+.1f}<br>{html.escape(', '.join(c['base_recipes']))}"
                    f" → {html.escape(', '.join(c['changed_recipes']))}"
                    + (f"<br><i>{SMOKE_NOTE}</i>" if c["smoke"] else "")
                    for c in points
                ],
                "hoverinfo": "text",
            })
    _every_axis(layout, "xaxis", categoryorder="array", categoryarray=labels, tickangle=-40)
    _every_axis(layout, "yaxis", title={"text": "points"}, zeroline=True, zerolinecolor="#444")
    layout.update(STYLE, title={"text": title}, height=200 * len(columns) + 220,
                  legend={"title": {"text": "family"}}, margin={"b": 160})
    return {"data": traces, "layout": layout}


def benchmark_heatmap(rows: Sequence[Row], columns: Sequence[str]) -> Figure:
    """Settings x benchmarks, each cell the mean over seeds (blank where not measured)."""
    return {"data": [{
        "type": "heatmap",
        "z": [[r["values"].get(c) for c in columns] for r in rows],
        "x": list(columns),
        "y": [r["label"] for r in rows],
        "colorscale": "Viridis",
        "colorbar": {"title": {"text": "0-100"}},
        "hovertemplate": "%{y}<br>%{x}: %{z:.1f}<extra></extra>",
    }], "layout": {**STYLE, "height": max(320, 22 * len(rows) + 160),
                   "yaxis": {"autorange": "reversed"}, "margin": {"l": 260}}}


def vision_reliance_figure(gaps: Sequence[Row]) -> Figure:
    """Per benchmark, score with the image minus score without (blind mode): how much the
    benchmark needs vision. ``gaps`` rows: ``benchmark``, ``gap``, ``settings``."""
    gaps = sorted(gaps, key=lambda g: -g["gap"])
    return {"data": [{
        "type": "bar",
        "x": [g["benchmark"] for g in gaps],
        "y": [g["gap"] for g in gaps],
        "marker": {"color": "#1f77b4"},
        "hovertext": [f"{html.escape(g['benchmark'])}: {g['gap']:+.1f} points "
                      f"(mean over {g['settings']} settings)" for g in gaps],
        "hoverinfo": "text",
    }], "layout": {**STYLE, "title": {"text": "Vision reliance: with image minus blind (points)"},
                   "yaxis": {"title": {"text": "points"}}, "shapes": [_hline(0)]}}


def loss_curves(train: dict[str, Any]) -> Figure | None:
    """A run's training loss per optimizer step, one trace per stage, the stages one after
    the other on the x axis; None for a record from before losses were kept."""
    traces, offset = [], 0
    for name, stage in train.items():
        losses = stage.get("losses") if isinstance(stage, dict) else None
        if not losses:
            continue
        traces.append({"type": "scatter", "mode": "lines", "name": str(name),
                       "x": list(range(offset + 1, offset + len(losses) + 1)),
                       "y": list(losses)})
        offset += len(losses)
    if not traces:
        return None
    return {"data": traces, "layout": {
        **STYLE, "height": 320, "title": {"text": "Training loss per step"},
        "xaxis": {"title": {"text": "optimizer step"}},
        "yaxis": {"title": {"text": "loss (answer tokens)"}}}}


# -- triage -----------------------------------------------------------------------------------


def triage_scatter(points: Sequence[Row], title: str, x_title: str, y_title: str) -> Figure:
    """Predicted against measured: per encoder (``points``: ``label``, ``encoder_id``,
    ``proxy``, ``proxy_ci``, ``measured``), the proxy's score on x with its 95% interval as an
    error bar, the measured score on y, each point labelled with the encoder's name."""
    xs = [p["proxy"] for p in points]
    return {"data": [{
        "type": "scatter",
        "mode": "markers+text",
        "name": "encoders",
        "x": xs,
        "y": [p["measured"] for p in points],
        **_error_bars(xs, [p.get("proxy_ci") for p in points], axis="x"),
        # plotly reads text as its HTML subset (entities decoded): a name is shown as written.
        "text": [html.escape(p["label"]) for p in points],
        "textposition": "top center",
        "textfont": {"size": 11},
        "marker": {"color": "#1f77b4", "size": 10},
        "hovertext": [_triage_hover(p) for p in points],
        "hoverinfo": "text",
    }], "layout": {
        **STYLE, "height": 520, "showlegend": False,
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "zeroline": False},
        "margin": {"t": 90},
    }}


def _triage_hover(point: Row) -> str:
    lines = [f"<b>{html.escape(point['label'])}</b>"]
    if point["encoder_id"] != point["label"]:
        lines.append(html.escape(point["encoder_id"]))
    ci = point.get("proxy_ci")
    lines.append(f"proxy: {point['proxy']:.1f}"
                 + (f" (95% interval {ci[0]:.1f}-{ci[1]:.1f})" if ci else ""))
    lines.append(f"measured: {point['measured']:.1f}")
    return "<br>".join(lines)
