"""The API and the pages serve the noise: intervals per setting and column, "within noise"
marks on the leaderboard, error bars in the figures, and ``/api/v1/compare``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from harness.store import ingest_paths

from ..harness.store.scored_runs import study


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("noise")
    app = create_app(Settings(db_url=f"sqlite:///{root / 'harness.db'}"))
    assert ingest_paths(app.state.store, study(root / "runs")).ok
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def rows_by_setting(api: TestClient) -> dict[tuple[str, str], dict]:
    table = api.get("/api/v1/leaderboard/benchmark").json()
    return {(r["encoder_id"], r["recipe"]): r for r in table["rows"]}


def test_every_setting_column_has_its_interval(api: TestClient) -> None:
    rows = rows_by_setting(api)
    a = rows[("enc-a", "frozen-1stage")]
    low, high = a["intervals"]["mmvp"]
    assert low < a["values"]["mmvp"] < high
    category = api.get("/api/v1/leaderboard/category").json()["rows"]
    assert all(set(r["intervals"]) == {"Vision-Centric"} for r in category)


def test_a_gap_within_noise_is_marked_and_a_clear_one_is_not(api: TestClient) -> None:
    rows = rows_by_setting(api)
    # enc-a and enc-c are 55.3 and 55.3 on MMVP; enc-b is 15 points below both.
    marks = {k: r["within_noise_above"].get("mmvp") for k, r in rows.items()}
    assert sorted(marks.values(), key=str) == [False, None, True, True]
    assert marks[("enc-b", "frozen-1stage")] in (False, True)  # the two enc-b tie
    top = [k for k, m in marks.items() if m is None]
    assert top[0][0] in ("enc-a", "enc-c")


def test_compare_answers_with_the_paired_difference(api: TestClient) -> None:
    body = api.get("/api/v1/compare", params={"a": "enc-a", "b": "a0", "plan": 2}).json()
    assert body["b"] == {"label": "run a0", "runs": ["a0"]}
    mmvp = next(d for d in body["differences"] if d["column"] == "mmvp")
    assert mmvp["paired"] and mmvp["low"] <= mmvp["difference"] <= mmvp["high"]
    assert len(body["plans"]) == len(body["differences"])
    bad = api.get("/api/v1/compare", params={"a": "enc-b", "b": "enc-a"})
    assert bad.status_code == 400 and "matches 2 settings" in bad.json()["detail"]
    assert api.get("/api/v1/compare", params={"a": "enc-a", "b": ""}).status_code == 422
    assert api.get("/api/v1/compare", params={"a": "enc-a", "b": "a0",
                                              "plan": -1}).status_code == 422


def figure(page: str, name: str) -> dict:
    found = re.search(rf'<script[^>]*data-figure="{name}"[^>]*>(.*?)</script>', page, re.S)
    assert found, f"no figure {name}"
    return json.loads(found.group(1))


def test_the_pages_draw_the_intervals(api: TestClient) -> None:
    board = api.get("/").text
    assert "95% interval" in board and 'class="noise-mark"' in board
    points = figure(board, "group-comparison")["data"]
    assert all(t["error_y"]["arrayminus"] for t in points)
    families = figure(api.get("/families").text, "families")
    bars = [t for t in families["data"] if t.get("error_y")]
    assert bars and all(len(t["error_y"]["array"]) == len(t["y"]) for t in bars)
    assert all(v >= 0 for t in bars for v in t["error_y"]["array"] if v is not None)
