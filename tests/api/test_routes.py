"""The JSON routes over a store of synthetic runs: filters, paging, pivots, comparisons,
published numbers and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient

from harness.store.synthetic import RECIPES

RUNS = 8 * 4 * 2  # encoders x recipes x seeds in conftest's store


def test_encoders_filter_and_page(api: TestClient) -> None:
    body = api.get("/api/v1/encoders", params={"limit": 3}).json()
    assert (body["total"], len(body["items"]), body["limit"]) == (8, 3, 3)
    rest = api.get("/api/v1/encoders", params={"limit": 3, "offset": 6}).json()["items"]
    assert len(rest) == 2 and rest[0]["id"] > body["items"][-1]["id"]
    ssl = api.get("/api/v1/encoders", params={"group": "ssl"}).json()
    assert ssl["total"] == 2 and {e["group"] for e in ssl["items"]} == {"ssl"}
    one = api.get(f"/api/v1/encoders/{ssl['items'][0]['id']}").json()
    assert one["runs"] == 4 * 2 and one["supervision"] == "self"
    assert api.get("/api/v1/encoders/nope").status_code == 404


def test_runs_filter_page_and_detail(api: TestClient) -> None:
    page = api.get("/api/v1/runs", params={"limit": 10, "recipe": "frozen"}).json()
    assert page["total"] == 8 * 2 and len(page["items"]) == 10
    assert {r["recipe"] for r in page["items"]} == {"frozen"}
    smoke = api.get("/api/v1/runs", params={"smoke": True, "limit": 1000}).json()
    assert smoke["total"] == 2 * 4 * 2 and all(r["smoke"] for r in smoke["items"])
    key = page["items"][0]["run_key"]
    detail = api.get(f"/api/v1/runs/{key}").json()
    assert detail["config"]["synthetic"] is True and detail["encoder"]["id"] == detail[
        "encoder_id"]
    # CV-Bench's 2D and 3D are slices of their own: each fills a Table 5 column.
    assert {s["subset"] for s in detail["scores"]} == {"overall", "cvbench:2D", "cvbench:3D"}
    assert len(detail["scores"]) > 20
    assert api.get("/api/v1/runs/no-such-run").status_code == 404


def test_scores_filters(api: TestClient) -> None:
    body = api.get("/api/v1/scores", params={"benchmark": "mmvp", "metric": "pair_accuracy",
                                             "include_smoke": False, "limit": 5}).json()
    assert body["total"] == 6 * 4 * 2
    assert {(s["benchmark"], s["metric"], s["smoke"]) for s in body["items"]} == {
        ("mmvp", "pair_accuracy", False)}
    assert body["items"][0]["prompt_hash"] == "p0"
    vc = api.get("/api/v1/scores", params={"category": "Vision-Centric", "limit": 1}).json()
    general = api.get("/api/v1/scores", params={"category": "General", "limit": 1}).json()
    # Vision-centric benchmarks (MMVP, RealWorldQA, CV-Bench, the probe) also carry their
    # blind score, and CV-Bench its 2D and 3D slices.
    assert vc["total"] == RUNS * (4 * 2 + 2) and general["total"] == RUNS * 4


def test_raw_leaderboard_keeps_its_shape_and_gains_filters(api: TestClient) -> None:
    body = api.get("/api/v1/leaderboard", params={"benchmark": "gqa", "group": "clip"}).json()
    assert {r["group"] for r in body["rows"]} == {"clip"} and body["smoke_rows"] == 0
    values = [r["value"] for r in body["rows"]]
    assert values == sorted(values, reverse=True)
    assert api.get("/api/v1/leaderboard", params={"limit": 7}).json()["rows"].__len__() == 7


def test_leaderboard_by_category_follows_the_paper_rule(api: TestClient) -> None:
    body = api.get("/api/v1/leaderboard/category", params={"include_smoke": False}).json()
    assert body["columns"] == ["General", "Knowledge", "OCR & Chart", "Vision-Centric"]
    assert body["total"] == 6 * 4 and body["smoke_rows"] == 0
    row = body["rows"][0]
    # The four Table 5 columns of each category; the probe is in none of them.
    assert row["counts"] == {"General": 4, "Knowledge": 4, "OCR & Chart": 4,
                             "Vision-Centric": 4}
    # Recompute General for this setting from its per-benchmark means (MME in points).
    bench = api.get("/api/v1/leaderboard/benchmark", params={
        "encoder": row["encoder_id"], "recipe": row["recipe"], "category": "General"}).json()
    assert bench["columns"] == ["gqa", "mmbench", "mme", "seed-image"]
    [b] = bench["rows"]
    v = b["values"]
    assert row["values"]["General"] == pytest.approx(
        (v["gqa"] + v["mmbench"] + v["mme"] / 20 + v["seed-image"]) / 4)


def test_leaderboard_sort_page_and_bad_sort(api: TestClient) -> None:
    params = {"sort": "Vision-Centric", "include_smoke": False, "limit": 5}
    rows = api.get("/api/v1/leaderboard/category", params=params).json()["rows"]
    values = [r["values"]["Vision-Centric"] for r in rows]
    assert values == sorted(values, reverse=True) and len(rows) == 5
    bad = api.get("/api/v1/leaderboard/category", params={"sort": "Nope"})
    assert bad.status_code == 400 and "General" in bad.json()["detail"]
    assert api.get("/api/v1/leaderboard/sideways").status_code == 422


def test_leaderboard_by_recipe_and_group(api: TestClient) -> None:
    by_recipe = api.get("/api/v1/leaderboard/recipe", params={"column": "mmvp"}).json()
    assert by_recipe["columns"] == sorted(r.name for r in RECIPES[:4])
    assert by_recipe["column"] == "mmvp" and by_recipe["total"] == 8
    assert all(v is not None for r in by_recipe["rows"] for v in r["values"].values())
    by_group = api.get("/api/v1/leaderboard/group", params={"recipe": "frozen"}).json()
    rows = {r["group"]: r for r in by_group["rows"]}
    assert set(rows) == {"clip", "ssl", "convnext", "other"}
    assert rows["ssl"]["encoders"] == 2 and rows["other"]["smoke"] is True


def test_published_rows_join_only_when_asked_and_are_marked(api: TestClient) -> None:
    plain = api.get("/api/v1/leaderboard/category", params={"limit": 1000}).json()
    assert {r["kind"] for r in plain["rows"]} == {"measured"}
    both = api.get("/api/v1/leaderboard/category",
                   params={"include_published": True, "limit": 1000}).json()
    published = [r for r in both["rows"] if r["kind"] == "published"]
    assert len(published) == 19 + 5  # Figure 4 encoders and Table 5 models
    clip = next(r for r in published if r["encoder_id"] == "clip-vit-l14-336.openai")
    assert clip["values"]["General"] == pytest.approx(66.0056)
    assert "Figure 4" in clip["source"]
    # Group aggregates never take published numbers in.
    grouped = api.get("/api/v1/leaderboard/group", params={"include_published": True}).json()
    assert all(r["kind"] == "measured" for r in grouped["rows"])


def test_comparisons_pair_recipes_by_trait(api: TestClient) -> None:
    unfreeze = api.get("/api/v1/comparisons/unfreezing", params={"include_smoke": False}).json()
    assert len(unfreeze) == 6 * 2  # each real encoder, at one and at two stages
    two_stage = next(c for c in unfreeze if c["recipe_stages"] == 2)
    assert (two_stage["base_recipes"], two_stage["changed_recipes"]) == (["frozen"],
                                                                          ["unfrozen"])
    col = "Vision-Centric"
    assert two_stage["deltas"][col] == pytest.approx(two_stage["changed"][col]
                                                     - two_stage["base"][col])
    stages = api.get("/api/v1/comparisons/stages", params={"encoder": two_stage[
        "encoder_id"]}).json()
    assert {(c["recipe_encoder"], tuple(c["base_recipes"]), tuple(c["changed_recipes"]))
            for c in stages} == {("frozen", ("frozen-1stage",), ("frozen",)),
                                 ("unfrozen", ("unfrozen-1stage",), ("unfrozen",))}
    assert api.get("/api/v1/comparisons/lunch").status_code == 422


def test_published_list(api: TestClient) -> None:
    rows = api.get("/api/v1/published", params={"encoder": "dinov2-vit-l14-518.lvd142m"}).json()
    assert {r["level"] for r in rows} == {"category"} and len(rows) == 4
    table5 = api.get("/api/v1/published", params={
        "subject": "GPT-4V", "level": "benchmark"}).json()
    assert len(table5) == 16 and {r["paper"] for r in table5} == {
        "Cambrian-1 (Tong et al., 2024)"}


def test_export_scores_csv_and_json(api: TestClient) -> None:
    response = api.get("/api/v1/export/scores", params={"benchmark": "gqa"})
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/csv")
    assert 'filename="scores.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == RUNS and {r["benchmark"] for r in rows} == {"gqa"}
    as_json = api.get("/api/v1/export/scores", params={"benchmark": "gqa", "format": "json"})
    assert len(json.loads(as_json.text)) == RUNS


def test_export_leaderboard_marks_published(api: TestClient) -> None:
    text = api.get("/api/v1/export/leaderboard/category",
                   params={"include_published": True}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["kind"] for r in rows} == {"measured", "published"}
    gpt = next(r for r in rows if r["encoder_id"] == "GPT-4V")
    assert "Table 5" in gpt["source"] and float(gpt["General"]) > 0
    assert api.get("/api/v1/export/scores", params={"format": "xlsx"}).status_code == 422
