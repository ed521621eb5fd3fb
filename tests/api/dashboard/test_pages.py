"""The dashboard's pages rendered from plain data: what each shows, marks and hides."""

from __future__ import annotations

import json
import re

from api.dashboard.pages.benchmarks import render_benchmarks
from api.dashboard.pages.families import render_families
from api.dashboard.pages.leaderboard import leaderboard_columns, render_leaderboard
from api.dashboard.pages.recipes import render_recipes
from api.dashboard.pages.runs import render_run, render_runs
from api.dashboard.rows import measured_rows, published_rows
from harness.store.summary import Cell, Setting

VC = "Vision-Centric"
TABLE5_COLUMN = {"mmvp": "MMVP", "realworldqa": "RealWorldQA"}


def setting(encoder: str, group: str, recipe: str = "frozen", smoke: bool = False,
            stages: int = 2, **benchmarks: float) -> Setting:
    s = Setting(encoder_id=encoder, group=group, supervision="", architecture="vit",
                recipe=recipe, llm="llm", connector="mlp2x_gelu", preset="full", smoke=smoke,
                recipe_encoder="unfrozen" if recipe.startswith("unfrozen") else "frozen",
                recipe_stages=stages, seeds=2)
    for name, value in benchmarks.items():
        s.benchmarks[name] = Cell(value=value, metric="accuracy", category=VC, seeds=2,
                                  std=1.0, blind=value - 10 if name == "mmvp" else None)
        if name in TABLE5_COLUMN:
            s.table5[TABLE5_COLUMN[name]] = value
    return s


def published(subject: str, metric: str, value: float, level: str = "category",
              category: str = VC, encoder_id: str | None = None, kind: str = "encoder",
              group: str = "clip", source: str = "Figure 4 (2-stage)") -> dict:
    return {"source": source, "subject": subject, "subject_kind": kind,
            "encoder_id": encoder_id, "group": group, "supervision": "", "metric": metric,
            "level": level, "category": category, "value": value, "paper": "Cambrian-1"}


SETTINGS = [
    setting("clip-a", "clip", mmvp=40.0, realworldqa=60.0),
    setting("dino-b", "ssl", mmvp=50.0, realworldqa=70.0),
    setting("tiny-c", "clip", smoke=True, mmvp=20.0, realworldqa=30.0),
    setting("clip-a", "clip", recipe="unfrozen", mmvp=44.0, realworldqa=63.0),
]
PUBLISHED = [
    published("OpenAI CLIP", f"{VC} (category average)", 48.1, encoder_id="clip-a"),
    published("OpenAI CLIP", "General (category average)", 66.0, category="General",
              encoder_id="clip-a"),
    published("GPT-4V", "MME-P", 1409.4, level="benchmark", category="General", kind="model",
              group="", source="Table 5"),
]


def figure(page: str, div: str) -> dict:
    match = re.search(rf'<script type="application/json" data-figure="{div}">(.*?)</script>',
                      page, re.S)
    assert match, f"no figure {div}"
    return json.loads(match.group(1))


def test_leaderboard_rows_are_settings_best_first_smoke_hidden_published_marked() -> None:
    page = render_leaderboard(SETTINGS, PUBLISHED)
    bodies = re.findall(r'<tr class="([^"]*)"\s+data-kind="(\w+)" data-smoke="(\w+)"', page)
    assert [(k, s) for _, k, s in bodies] == [
        ("measured", "false"), ("measured", "false"), ("measured", "false"),
        ("measured", "true"), ("published", "false"), ("published", "false")]
    assert '<input type="checkbox" id="show-smoke">' in page  # unchecked: smoke hidden
    assert '<input type="checkbox" id="show-published" checked>' in page
    assert page.count('class="badge published"') == 2 + 1  # two rows and the note
    assert "not real scores" in page and "1 of 4 settings" in page
    assert "dino-b" in page.split("clip-a")[0]  # best (70/50) before 63/44 and 60/40


def test_leaderboard_columns_categories_first_then_benchmarks() -> None:
    rows = measured_rows(SETTINGS) + published_rows(PUBLISHED)
    for row, s in zip(rows, SETTINGS, strict=False):
        row["benchmark_categories"] = {b: c.category for b, c in s.benchmarks.items()}
    columns = leaderboard_columns(rows)
    assert [(c["name"], c["category"]) for c in columns] == [
        ("General", "General"), (VC, VC), ("MME-P", "General"), ("mmvp", VC), ("realworldqa", VC)]
    assert columns[2]["title"] == "as published, out of 2000"


def test_partial_category_is_tinted_and_std_in_title() -> None:
    page = render_leaderboard(SETTINGS[:1], [])
    assert 'class="num partial"' in page  # two of the paper's four vision-centric ones
    assert 'title="± 1.0 over seeds"' in page


def test_empty_store_tells_how_to_fill_it() -> None:
    page = render_leaderboard([], [])
    assert "harness sweep --encoders all --preset smoke" in page
    assert "harness import-published cambrian-1" in page and "data-figure" not in page


def test_families_from_published_alone() -> None:
    page = render_families([], PUBLISHED)
    fig = figure(page, "families")
    assert {t["meta"]["kind"] for t in fig["data"]} == {"published"}
    assert [t["x"] for t in fig["data"] if t["y"]] == [["clip-a"], ["clip-a"]]
    assert 'id="show-published-traces" checked' in page
    assert "No measured runs yet" in page


def test_families_measured_setting_choice_and_smoke_switch() -> None:
    page = render_families(SETTINGS, PUBLISHED)
    fig = figure(page, "families")
    measured = [t for t in fig["data"] if t["meta"]["kind"] == "measured" and t["y"]]
    assert sorted(x for t in measured for x in t["x"]) == ["clip-a", "dino-b"]  # frozen only
    assert 'value="frozen|llm|mlp2x_gelu|full" selected' in page
    with_smoke = figure(render_families(SETTINGS, PUBLISHED, include_smoke=True), "families")
    assert any("tiny-c" in t["x"] for t in with_smoke["data"])
    unfrozen = render_families(SETTINGS, PUBLISHED, setting="unfrozen|llm|mlp2x_gelu|full")
    assert 'value="unfrozen|llm|mlp2x_gelu|full" selected' in unfrozen


def test_recipes_page_shows_deltas_or_says_what_to_run() -> None:
    page = render_recipes(SETTINGS)
    fig = figure(page, "unfreeze")
    assert [list(t["y"]) for t in fig["data"]] == [[3.5]]  # (44+63)/2 - (40+60)/2
    assert "No encoder has both a one-stage and a two-stage run yet" in page


def test_benchmarks_page_heatmap_and_vision_gap() -> None:
    versions = [{"benchmark": "mmvp", "category": VC, "runs": 4, "variants": 2,
                 "versions": ["1"], "prompt_hashes": ["a", "b"], "label_patches": [],
                 "dataset_hashes": ["d"]}]
    page = render_benchmarks(SETTINGS, versions)
    heat = figure(page, "benchmark-heatmap")["data"][0]
    assert heat["x"] == ["mmvp", "realworldqa"] and len(heat["y"]) == 3  # smoke left out
    gap = figure(page, "vision-reliance")["data"][0]
    assert gap["x"] == ["mmvp"] and gap["y"] == [10.0]
    assert "⚠ 2 variants" in page


def test_runs_page_pages_and_run_page_escapes() -> None:
    run = {"run_key": "k1", "encoder_id": "<b>enc</b>", "smoke": True, "recipe": "frozen",
           "llm": "l", "connector": "c", "preset": "p", "seed": 0, "status": "failed",
           "error": "boom <script>", "finished_at": None, "wall_seconds": 1.0}
    page = render_runs([run], total=250, filters={"encoder": None}, choices={
        "encoder": [], "recipe": [], "llm": [], "preset": []}, limit=100, offset=100)
    assert 'href="/runs?offset=0&amp;limit=100"' in page
    assert 'href="/runs?offset=200&amp;limit=100"' in page
    assert "<b>enc</b>" not in page and "&lt;b&gt;enc&lt;/b&gt;" in page
    detail = {**run, "config": {"x": "</pre><script>"}, "config_hash": "zz", "train": {},
              "run_dir": "", "record_hash": "h", "encoder": None, "tiny": True,
              "started_at": None, "host": "", "job_id": "", "code_version": "",
              "scores": [], "prediction_files": []}
    page = render_run(detail, [
        {"benchmark": "probe", "items": 3, "path": "p.jsonl", "error": "not reachable",
         "sample": [], "columns": []},
        {"benchmark": "mmvp", "items": 300, "path": "m.jsonl", "error": None,
         "sample": [{"idx": 7, "output": "<i>B</i>"}], "columns": ["idx", "output"]},
    ])
    assert "</pre><script>" not in page and "does not match the run key" in page
    assert "not reachable" in page and "Random-weight smoke run" in page
    assert "(300 items," in page and "<td>7</td><td>&lt;i&gt;B&lt;/i&gt;</td>" in page


SIGLIP, DINO = "siglip-vit-so400m14-384.webli", "dinov2-vit-l14-518.lvd142m"


def combination(encoder: str, connector: str, **benchmarks: float) -> Setting:
    s = setting(encoder, "multi", **benchmarks)
    s.connector = connector
    return s


def test_combinations_read_by_name_and_connector_and_keep_their_id() -> None:
    combo = combination(f"{SIGLIP}+{DINO}", "sva(grid=12)", mmvp=55.0, realworldqa=72.0)
    unknown = combination("clip-a+dino-b", "concat", mmvp=45.0, realworldqa=65.0)
    settings = [*SETTINGS, combo, unknown]
    labels = {r["encoder_id"]: r["label"] for r in measured_rows(settings)}
    assert labels[f"{SIGLIP}+{DINO}"] == ("SigLIP SO400M/14@384 + DINOv2 ViT-L/14@518"
                                          " (sva(grid=12))")
    assert labels["clip-a+dino-b"] == "clip-a + dino-b (concat)"  # no names: the ids joined
    assert labels["clip-a"] == "clip-a"  # a single encoder keeps its id as its label
    page = render_leaderboard(settings, PUBLISHED)
    # The link still filters runs by the id, and the id is the link's tooltip.
    assert (f'<a href="/runs?encoder={SIGLIP}%2B{DINO}" title="{SIGLIP}+{DINO}">SigLIP'
            f' SO400M/14@384 + DINOv2 ViT-L/14@518 (sva(grid=12))</a>') in page
    points = figure(page, "group-comparison")["data"]
    names = [x for t in points for x in t["x"][1]]
    assert "clip-a + dino-b (concat)" in names and "clip-a" in names
    hover = next(h for t in points for h in t["hovertext"] if "clip-a + dino-b" in h)
    assert "<b>clip-a + dino-b (concat)</b><br>clip-a+dino-b<br>" in hover
    families = figure(render_families([combo], []), "families")
    bars = [t for t in families["data"] if t["y"]]
    assert bars[0]["x"] == ["SigLIP SO400M/14@384 + DINOv2 ViT-L/14@518 (sva(grid=12))"]
    assert f"{SIGLIP}+{DINO}" in bars[0]["hovertext"][0]


def test_leaderboard_rows_kept_between_views_match_a_fresh_draw(monkeypatch) -> None:
    import api.dashboard.pages.leaderboard as pages

    render_leaderboard(SETTINGS, PUBLISHED)
    # An ingest replaced one setting (the rollup hands back a new object for it) and added a
    # benchmark column: every kept row must be drawn again for the new columns.
    changed = [*SETTINGS[:1], setting("dino-b", "ssl", mmvp=55.0, realworldqa=71.0, cvbench=30.0),
               *SETTINGS[2:]]
    drawn = []
    real = pages.row_html
    monkeypatch.setattr(pages, "row_html", lambda *a: drawn.append(a[0]) or real(*a))
    kept = render_leaderboard(changed, PUBLISHED)
    assert len(drawn) == len(changed) + 2  # the new columns: all rows again (+2 published)
    drawn.clear()
    again = render_leaderboard(changed, PUBLISHED)
    # Only the published rows are drawn again; every setting's row was kept.
    assert [r["kind"] for r in drawn] == ["published", "published"]

    monkeypatch.setattr(pages, "_LEADERBOARD_ROWS", pages.LeaderboardRows())
    fresh = render_leaderboard(changed, PUBLISHED)
    assert kept == again == fresh
    assert "55.0" in fresh and "71.0" in fresh


# -- a store of smoke runs alone (after `harness sweep --encoders all --preset smoke`) --------

SMOKE_ONLY = [
    setting("tiny-a", "clip", smoke=True, mmvp=20.0, realworldqa=30.0),
    setting("tiny-a", "clip", recipe="unfrozen", smoke=True, mmvp=22.0, realworldqa=31.0),
    setting("tiny-b", "ssl", smoke=True, mmvp=25.0, realworldqa=28.0),
    setting("tiny-b", "ssl", recipe="unfrozen", smoke=True, mmvp=24.0, realworldqa=29.0),
]
NO_RESULTS = "No results yet"


def switch(path: str, switch_id: str = "show-hidden-smoke") -> str:
    """The hidden-smoke notice's link, as the page writes it (``&`` escaped)."""
    return f'<a href="{path}" id="{switch_id}" class="show-hidden-smoke">'


def test_benchmarks_of_smoke_runs_alone_say_they_are_hidden_not_missing() -> None:
    page = render_benchmarks(SMOKE_ONLY, [])
    assert "4 settings exist among hidden smoke runs." in page
    assert switch("/benchmarks?smoke=true") in page
    assert NO_RESULTS not in page and "data-figure" not in page
    assert "1 setting exists among hidden smoke runs." in render_benchmarks(SMOKE_ONLY[:1], [])

    shown = render_benchmarks(SMOKE_ONLY, [], include_smoke=True)
    assert len(figure(shown, "benchmark-heatmap")["data"][0]["y"]) == 4
    assert "hidden smoke runs" not in shown and "All 4 settings come from" in shown

    empty = render_benchmarks([], [])
    assert NO_RESULTS in empty and "hidden smoke runs" not in empty


def test_recipes_never_call_a_pair_missing_that_exists_among_hidden_smoke_runs() -> None:
    page = render_recipes(SMOKE_ONLY)
    assert "2 comparisons (unfrozen − frozen) exist among hidden smoke runs." in page
    assert switch("/recipes?smoke=true", "show-hidden-smoke-unfreeze") in page
    assert "No encoder has both a frozen and an unfrozen run" not in page
    # No smoke run has one stage either: that advice still stands.
    assert "No encoder has both a one-stage and a two-stage run yet" in page
    assert NO_RESULTS not in page and "data-figure" not in page
    # A real setting without its pair: the smoke pairs are still the ones to point at.
    mixed = render_recipes([SETTINGS[1], *SMOKE_ONLY])
    assert "2 comparisons (unfrozen − frozen) exist among hidden smoke runs." in mixed
    assert "No encoder has both a frozen and an unfrozen run" not in mixed

    shown = render_recipes(SMOKE_ONLY, include_smoke=True)
    bars = figure(shown, "unfreeze")["data"]
    assert sorted(x for t in bars for x in t["x"]) == ["tiny-a", "tiny-b"]
    assert "hidden smoke runs" not in shown and "All 2 comparisons come from" in shown

    empty = render_recipes([])
    assert NO_RESULTS in empty and "No encoder has both" not in empty


def test_families_of_smoke_runs_alone_offer_the_switch_keeping_the_setting() -> None:
    unfrozen = "unfrozen|llm|mlp2x_gelu|full"
    page = render_families(SMOKE_ONLY, [], setting=unfrozen)
    assert "4 settings exist among hidden smoke runs." in page
    assert switch("/families?setting=unfrozen%7Cllm%7Cmlp2x_gelu%7Cfull&amp;smoke=true") in page
    assert NO_RESULTS not in page and "data-figure" not in page

    # With published numbers the figure shows them, and the notice says what else there is.
    with_paper = render_families(SMOKE_ONLY, PUBLISHED)
    assert "4 settings exist among hidden smoke runs." in with_paper
    assert switch("/families?smoke=true") in with_paper
    assert "No measured runs yet" not in with_paper
    assert {t["meta"]["kind"] for t in figure(with_paper, "families")["data"]} == {"published"}

    shown = render_families(SMOKE_ONLY, [], setting=unfrozen, include_smoke=True)
    assert f'value="{unfrozen}" selected' in shown and "hidden smoke runs" not in shown
    bars = [t for t in figure(shown, "families")["data"] if t["y"]]
    assert sorted(x for t in bars for x in t["x"]) == ["tiny-a", "tiny-b"]

    empty = render_families([], [])
    assert NO_RESULTS in empty and "hidden smoke runs" not in empty


def test_leaderboard_of_smoke_runs_alone_says_they_wait_for_the_switch() -> None:
    page = render_leaderboard(SMOKE_ONLY, [])
    assert "All 4 settings come from" in page
    assert '<label for="show-smoke" class="switch-name">show smoke</label>' in page
    assert '<input type="checkbox" id="show-smoke">' in page
    assert NO_RESULTS not in page


def test_cpu_scale_rows_are_real_and_say_so() -> None:
    real = setting("effnet-lite0", "other", mmvp=55.0)
    real.scale = "cpu"
    page = render_leaderboard([real, setting("clip-a", "clip", mmvp=40.0)], [])
    row = page[page.index('data-kind="measured"'):]
    row = row[:row.index("</tr>")]
    assert "effnet-lite0" in row and 'class="badge cpu-scale"' in row
    assert 'data-smoke="false"' in row  # shown by default: not a smoke row
    assert page.count("badge cpu-scale") == 1


def test_an_imported_lmms_eval_run_is_marked_external_in_its_own_column() -> None:
    row = published("LLaVA-1.5-7B", "lmms-eval:mmstar average", 0.33, level="benchmark",
                    category="", kind="external model", group="",
                    source="lmms-eval 0.7.3: results.json")
    page = render_leaderboard(SETTINGS, [row])
    assert 'title="lmms-eval 0.7.3: results.json">external</span>' in page
    assert ">lmms-eval:mmstar average<" in page  # a column of its own, beside mmvp's
