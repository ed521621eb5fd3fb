"""Thousands of runs: every page and list still answers, and what it sends grows with the
settings shown (seeds averaged, lists paged), not with the number of runs. Bounded load, no
timing asserts (bench/store_api.py measures latency)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from harness.store import ingest_record, ingest_records
from harness.store.synthetic import synthetic_records

ENCODERS, RECIPES, SEEDS, BENCHMARKS = 84, 6, 4, 3
RUNS = ENCODERS * RECIPES * SEEDS  # 2016


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("load") / "h.db"
    app = create_app(Settings(db_url=f"sqlite:///{path}"))
    report = ingest_records(app.state.store, synthetic_records(
        encoders=ENCODERS, recipes=RECIPES, benchmarks=BENCHMARKS, seeds=SEEDS))
    assert report.added == RUNS
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def test_leaderboard_page_has_a_row_per_setting_not_per_run(big: TestClient) -> None:
    page = big.get("/").text
    assert len(re.findall(r'<tr class="[^"]*" data-kind="measured"', page)) == ENCODERS * RECIPES
    # Table row and chart point per setting, about 750 bytes together: bounded per setting.
    assert len(page) < 1000 * ENCODERS * RECIPES


@pytest.mark.parametrize("path", ["/families", "/recipes", "/benchmarks", "/runs"])
def test_every_page_answers(big: TestClient, path: str) -> None:
    assert big.get(path).status_code == 200


def test_lists_are_paged(big: TestClient) -> None:
    runs = big.get("/api/v1/runs").json()
    assert (runs["total"], len(runs["items"])) == (RUNS, 100)
    last = big.get("/api/v1/runs", params={"offset": RUNS - 16, "limit": 100}).json()
    assert len(last["items"]) == 16
    table = big.get("/api/v1/leaderboard/category").json()
    assert (table["total"], len(table["rows"])) == (ENCODERS * RECIPES, 100)
    page = big.get("/runs").text
    assert page.count('<a href="/runs/') == 100 and "older →" in page
    assert len(big.get("/api/v1/leaderboard").json()["rows"]) == 100


def test_export_streams_every_score(big: TestClient) -> None:
    # Vision-centric benchmarks carry a blind score too: mme-p, mmb, seed-i are General.
    lines = big.get("/api/v1/export/scores").text.strip().splitlines()
    assert len(lines) == 1 + RUNS * BENCHMARKS


def test_pages_are_cached_until_the_data_changes(big: TestClient) -> None:
    first = big.get("/families").text
    assert big.get("/families").text == first
    extra = next(synthetic_records(encoders=1, recipes=1, benchmarks=BENCHMARKS, rng_seed=9))
    extra = dataclasses.replace(extra, run_key="late00000001", encoder=dataclasses.replace(
        extra.encoder, id="late-arrival.fake"))
    assert ingest_record(big.app.state.store, extra)
    assert "late-arrival.fake" in big.get("/families").text
