"""Pure functions from leaderboard rows (``Store.leaderboard``) to plotly figures."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

GROUPS = ("clip", "ssl", "convnext", "other")
GROUP_COLORS = {
    "clip": "#1f77b4",
    "ssl": "#ff7f0e",
    "convnext": "#2ca02c",
    "other": "#7f7f7f",
}
SMOKE_NOTE = "random-weight smoke run"

Row = dict[str, Any]


def group_comparison(
    rows: Sequence[Row], benchmark: str = "probe", subset: str = "overall"
) -> go.Figure:
    """Encoders of each recipe as points, one trace (color) per encoder group.

    Smoke rows get hollow markers and a note in hover, legend and title; a dashed line marks
    the chance level where the rows carry one.
    """
    rows = [r for r in rows if r["benchmark"] == benchmark and r["subset"] == subset]
    settings = _setting_labels(rows)
    fig = go.Figure()
    for group in _groups_present(rows):
        # Best first within a group, so each recipe's block reads like a ranking.
        members = sorted(
            (r for r in rows if _group(r) == group),
            key=lambda r: (settings[r["run_key"]], -r["value"], r["encoder_id"]),
        )
        all_smoke = all(r["smoke"] for r in members)
        fig.add_trace(
            go.Scatter(
                name=f"{group} ({SMOKE_NOTE})" if all_smoke else group,
                legendgroup=group,
                mode="markers",
                # Two-level axis: recipe outside, encoder inside, so groups stay side by side.
                x=[
                    [settings[r["run_key"]] for r in members],
                    [r["encoder_id"] for r in members],
                ],
                y=[r["value"] for r in members],
                marker={
                    "color": GROUP_COLORS.get(group, GROUP_COLORS["other"]),
                    "size": 11,
                    "symbol": ["circle-open" if r["smoke"] else "circle" for r in members],
                    "line": {"width": 2},
                },
                hovertext=[_hover(r) for r in members],
                hoverinfo="text",
            )
        )
    for chance in sorted({r["chance"] for r in rows if r.get("chance") is not None}):
        fig.add_hline(
            y=chance,
            line_dash="dash",
            line_color="#444",
            annotation_text=f"chance {chance:g}",
            annotation_position="top left",
        )
    title = f"{benchmark} · {subset}"
    if any(r["smoke"] for r in rows):
        title += f"<br><sub>hollow markers: {SMOKE_NOTE}s (random weights, not real scores)</sub>"
    fig.update_layout(
        title={"text": title},
        yaxis_title=f"{_metric(rows)} (0-100)",
        legend_title_text="encoder group",
        template="plotly_white",
    )
    return fig


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
    lines = [
        f"<b>{html.escape(row['encoder_id'])}</b>",
        f"{html.escape(row['metric'])}: {row['value']:.1f}",
        f"n = {row['n']}",
        f"recipe {html.escape(row['recipe'])}, seed {row['seed']}",
    ]
    if row["smoke"]:
        lines.append(f"<i>{SMOKE_NOTE}: not a real score</i>")
    return "<br>".join(lines)
