"""Figures and pages from leaderboard rows: groups, smoke marking, chance line, escaping."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from api.dashboard import figures
from api.dashboard.figures import GROUP_COLORS


def validated(build):
    """The figure function, its plain-dict figure loaded into ``go.Figure``: plotly validates
    every property there (the pages skip that to stay fast), and the tests read attributes."""
    return lambda *args, **kwargs: go.Figure(build(*args, **kwargs))


group_comparison = validated(figures.group_comparison)
families_figure = validated(figures.families_figure)
deltas_figure = validated(figures.deltas_figure)
vision_reliance_figure = validated(figures.vision_reliance_figure)
benchmark_heatmap = validated(figures.benchmark_heatmap)
loss_curves = validated(figures.loss_curves)


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


def fam(label: str, group: str, **values: float) -> dict:
    return {"label": label, "group": group, "values": values, "counts": {}, "smoke": False,
            "source": "Figure 4", "setting": "frozen"}


def test_families_figure_keeps_published_apart_and_switchable() -> None:
    measured = [fam("clip-a", "clip", General=60.0), fam("dino-b", "ssl", General=50.0)]
    published = [fam("clip-a", "clip", General=66.0, Knowledge=48.0),
                 fam("sam-h", "other", General=40.0)]
    fig = families_figure(measured, published, ["General", "Knowledge"])
    kinds = {(t.meta["kind"], t.meta["group"]) for t in fig.data}
    assert kinds == {("measured", "clip"), ("measured", "ssl"), ("published", "clip"),
                     ("published", "other")}
    for trace in fig.data:
        hatched = trace.marker.pattern.shape == "/"
        assert hatched == (trace.meta["kind"] == "published")
        assert trace.offsetgroup == trace.meta["kind"]  # side by side, never stacked
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == ["clip", "ssl", "clip · published", "other · published"]
    # The same encoder sits in one x slot for both kinds: CLIP first, then SSL, then other.
    assert list(fig.layout.xaxis.categoryarray) == ["clip-a", "dino-b", "sam-h"]
    knowledge = [t for t in fig.data if t.yaxis == "y2"]
    assert [(t.meta["kind"], list(t.y)) for t in knowledge if len(t.y)] == [
        ("published", [48.0])]


def test_deltas_figure_one_panel_per_column() -> None:
    comparison = {"label": "clip-a", "encoder_id": "clip-a", "group": "clip", "smoke": False,
                  "deltas": {"General": 2.0, "Vision-Centric": -1.0},
                  "base_recipes": ["frozen"], "changed_recipes": ["unfrozen"]}
    fig = deltas_figure([comparison], ["General", "Vision-Centric"], "Unfreezing")
    assert [list(t.y) for t in fig.data] == [[2.0], [-1.0]]
    assert "frozen → unfrozen" in fig.data[0].hovertext[0]


def test_vision_reliance_sorted_by_gap() -> None:
    fig = vision_reliance_figure([{"benchmark": "a", "gap": 3.0, "settings": 2},
                                  {"benchmark": "b", "gap": 12.0, "settings": 2}])
    assert list(fig.data[0].x) == ["b", "a"]


def test_benchmark_heatmap_is_blank_where_not_measured() -> None:
    fig = benchmark_heatmap([{"label": "a", "values": {"x": 1.0}},
                             {"label": "b", "values": {"y": 2.0}}], ["x", "y"])
    assert [list(r) for r in fig.data[0].z] == [[1.0, None], [None, 2.0]]
    assert list(fig.data[0].y) == ["a", "b"]


def test_loss_curves_put_the_stages_one_after_the_other() -> None:
    train = {"align": {"steps": 3, "losses": [6.0, 5.5, 5.1]}, "feature_cache": {"hit": True},
             "finetune": {"steps": 2, "losses": [2.0, 1.5]}}
    fig = loss_curves(train)
    assert [t.name for t in fig.data] == ["align", "finetune"]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[1].x) == [4, 5]
    assert list(fig.data[1].y) == [2.0, 1.5]
    # A record from before the losses were kept has no curve to draw.
    assert figures.loss_curves({"align": {"steps": 3, "first_loss": 6.0}}) is None
