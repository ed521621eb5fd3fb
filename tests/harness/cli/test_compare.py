"""``harness compare A B``: settings and runs named as a user names them, the verdicts, the
seed plan, and one-line errors for names that match nothing or too much. ``harness reliance``:
with the image, blind, and the difference, each with its interval."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError
from harness.store import Store, ingest_paths

from ..store.scored_runs import study, write_scored_run

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("compare")
    url = f"sqlite:///{root / 'harness.db'}"
    assert ingest_paths(Store(url), study(root / "runs")).ok
    return url


def compare(db: str, *args: str) -> dict:
    result = runner.invoke(app, ["compare", *args, "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_equal_settings_are_within_noise_and_a_clear_gap_is_not(db: str) -> None:
    same = {d["column"]: d for d in compare(db, "enc-a", "enc-c")["differences"]}
    assert list(same) == ["Vision-Centric", "mmvp", "realworldqa"]
    assert all(d["within_noise"] and d["paired"] for d in same.values())
    gap = {d["column"]: d for d in compare(db, "enc-a", "enc-b,recipe=frozen-1stage")[
        "differences"]}
    assert gap["mmvp"]["difference"] == pytest.approx(55.333 - 40.0, abs=0.01)
    assert gap["mmvp"]["low"] > 0 and gap["mmvp"]["within_noise"] is False


def test_a_run_key_is_one_side_and_the_table_says_the_verdict(db: str) -> None:
    result = runner.invoke(app, ["compare", "a0", "b1", "--db", db])
    assert result.exit_code == 0, result.output
    assert "A: run a0" in result.output and "A better" in result.output


def test_the_plan_counts_seeds_from_the_measured_spreads(db: str) -> None:
    plans = {p["column"]: p for p in compare(db, "enc-a", "enc-c", "--plan", "3")["plans"]}
    mmvp = plans["mmvp"]
    assert mmvp["seed_sd_a"] == pytest.approx(2.0) and mmvp["seeds"] >= 2
    # The same questions answered alike: realworldqa's gap has no spread to resolve.
    assert plans["realworldqa"]["unit_sd"] == 0.0


@pytest.mark.parametrize(("a", "message"), [
    ("enc-x", "encoders with finished runs: enc-a, enc-b, enc-c"),
    ("enc-b", "matches 2 settings; name one: encoder=enc-b,recipe=frozen-1stage | "
              "encoder=enc-b,recipe=unfrozen-2stage"),
    ("enc-b,colour=red", "field one of encoder, recipe, llm, connector, preset"),
])
def test_a_bad_name_gets_one_line_naming_the_choices(db: str, a: str, message: str) -> None:
    # harness's main() prints a HarnessError as one line and exits 2 (test_commands.py).
    result = runner.invoke(app, ["compare", a, "enc-a", "--db", db])
    assert isinstance(result.exception, HarnessError)
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_reliance_gives_both_scores_and_their_difference_with_intervals(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'harness.db'}"
    seen = [i % 4 != 0 for i in range(100)]  # 75 right
    folders = [write_scored_run(tmp_path / "runs", f"d{seed}", "enc-d", seed=seed,
                                mmvp_right=[True, False] * 10, realworldqa_right=seen,
                                realworldqa_blind_right=[i % 2 == 0 for i in range(100)])
               for seed in range(2)]
    assert ingest_paths(Store(url), folders).ok
    result = runner.invoke(app, ["reliance", "enc-d", "--db", url, "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)["benchmarks"]
    assert (row["benchmark"], row["seeds"]) == ("realworldqa", 2)
    assert (row["with_image"], row["blind"], row["reliance"]) == (75.0, 50.0, 25.0)
    low, high = row["reliance_interval"]
    assert 0 < low < 25.0 < high
    table = runner.invoke(app, ["reliance", "enc-d", "--db", url])
    assert "realworldqa" in table.output and "+25.0 [" in table.output


def test_reliance_without_blind_scores_says_how_to_get_them(db: str) -> None:
    result = runner.invoke(app, ["reliance", "enc-a", "--db", db])
    assert isinstance(result.exception, HarnessError)
    assert "no benchmark was scored both with and without the image (blind_eval = true" in \
        str(result.exception)
