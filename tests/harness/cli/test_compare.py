"""``harness compare A B``: settings and runs named as a user names them, the verdicts, the
seed plan, and one-line errors for names that match nothing or too much."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError
from harness.store import Store, ingest_paths

from ..store.scored_runs import study

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
