"""Figures and pages from leaderboard rows: groups, smoke marking, chance line, escaping."""

from __future__ import annotations

from typing import Any

from dashboard.figures import GROUP_COLORS, group_comparison
from dashboard.pages import render_index


def row(encoder: str, group: str, value: float, smoke: bool = False, **extra: Any) -> dict:
    base = {
        "encoder_id": encoder,
        "group": group,
        "supervision": "language",
        "architecture": "vit",
        "tiny": smoke,
        "smoke": smoke,
        "recipe": "llava15",
        "llm": "tiny-llm",
        "connector": "mlp2x_gelu",
        "seed": 0,
        "benchmark": "probe",
        "category": "",
        "metric": "accuracy",
        "subset": "overall",
        "value": value,
        "n": 200,
        "chance": 25.0,
        "run_key": f"{encoder}-{extra.get('recipe', 'llava15')}",
    }
    return base | extra


ROWS = [
    row("clip-vit-b16.openai", "clip", 62.0),
    row("siglip-b16.webli", "clip", 64.0),
    row("dinov2-tiny", "ssl", 30.0, smoke=True),
    row("effnet-lite0.imagenet", "other", 48.0),
    row("clip-vit-b16.openai", "clip", 58.0, recipe="cambrian"),
    row("mmvp-only", "clip", 10.0, benchmark="mmvp"),
]


def test_one_trace_per_group_present_in_fixed_order_and_colors() -> None:
    fig = group_comparison(ROWS)
    assert [t.legendgroup for t in fig.data] == ["clip", "ssl", "other"]
    assert [t.marker.color for t in fig.data] == [GROUP_COLORS[g] for g in ("clip", "ssl", "other")]
    clip = fig.data[0]
    assert list(clip.x[0]) == ["cambrian", "llava15", "llava15"]  # recipe outside
    assert list(clip.x[1]) == ["clip-vit-b16.openai", "siglip-b16.webli", "clip-vit-b16.openai"]
    assert list(clip.y) == [58.0, 64.0, 62.0]  # best first within each recipe
    assert "mmvp-only" not in str(fig.to_json())


def test_hover_shows_encoder_value_and_n() -> None:
    hover = group_comparison(ROWS).data[0].hovertext[1]
    assert "siglip-b16.webli" in hover and "64.0" in hover and "n = 200" in hover


def test_smoke_rows_are_hollow_and_named() -> None:
    fig = group_comparison(ROWS)
    ssl = fig.data[1]
    assert list(ssl.marker.symbol) == ["circle-open"]
    assert "smoke" in ssl.name and "not a real score" in ssl.hovertext[0]
    assert set(fig.data[0].marker.symbol) == {"circle"}
    assert "smoke" in fig.layout.title.text


def test_chance_line_only_when_rows_carry_it() -> None:
    [line] = group_comparison(ROWS).layout.shapes
    assert line.y0 == line.y1 == 25.0 and line.line.dash == "dash"
    no_chance = [r | {"chance": None} for r in ROWS]
    assert group_comparison(no_chance).layout.shapes == ()
    assert "smoke" not in group_comparison([r for r in ROWS if not r["smoke"]]).layout.title.text


def test_unknown_group_is_drawn_as_other_and_llm_splits_slots() -> None:
    rows = [row("sam-h", "segmentation", 40.0), row("sam-h", "other", 41.0, llm="b", run_key="k")]
    fig = group_comparison(rows)
    assert [t.legendgroup for t in fig.data] == ["other"]
    assert set(fig.data[0].x[0]) == {"llava15 / tiny-llm", "llava15 / b"}


def test_page_escapes_text_and_embeds_figure() -> None:
    page = render_index(ROWS + [row("<script>alert(1)</script>", "clip", 1.0)])
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Plotly.newPlot" in page and "random-weight smoke run" in page


def test_empty_page_tells_how_to_get_results() -> None:
    page = render_index([])
    assert "harness sweep --encoders all --preset smoke" in page
    assert "Plotly.newPlot" not in page
