"""``harness triage`` and ``harness sweep --encoders triage:K`` as a user types them: scores as
JSON, the recommendation, the sweep it plans, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError

runner = CliRunner()
CLIP, DINO = "clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"


@pytest.fixture(scope="module")
def triaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("triage")
    db = f"sqlite:///{root / 'harness.db'}"
    result = runner.invoke(app, ["triage", "--encoders", f"{CLIP},{DINO}", "--tiny",
                                 "--proxies", "knn,pairs", "--root", str(root), "--db", db,
                                 "--budget", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    return root, db


def test_scores_and_the_recommendation_as_json(triaged: tuple[Path, str]) -> None:
    root, db = triaged
    result = runner.invoke(app, ["triage", "--budget", "2", "--tiny", "--db", db,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["outcomes"] == []  # nothing named: only ranks what the store holds
    chosen = out["recommendation"]
    assert chosen["proxy"] == "attentive-probe" or chosen["encoders"]
    assert "unchecked" in chosen["explanation"] or chosen["basis"]


def test_ranking_uses_a_proxy_the_store_has(triaged: tuple[Path, str]) -> None:
    root, db = triaged
    result = runner.invoke(app, ["triage", "--encoders", CLIP, "--tiny", "--proxies",
                                 "attentive-probe", "--root", str(root), "--db", db,
                                 "--budget", "1"])
    assert result.exit_code == 0, result.output
    assert "Worth a full sweep (ranked by attentive-probe, unchecked" in result.output
    assert f"1. {CLIP}" in result.output
    assert "harness sweep --encoders triage:1" in result.output


def test_sweep_runs_the_recommended_encoders(triaged: tuple[Path, str]) -> None:
    root, db = triaged
    result = runner.invoke(app, ["sweep", "--encoders", "triage:1", "--preset", "smoke",
                                 "--recipes", "frozen", "--root", str(root), "--db", db,
                                 "--dry-run", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [r["encoder"] for r in plan["runs"]] == [CLIP]


@pytest.mark.parametrize(("args", "message"), [
    (["triage"], "give --encoders to score, --budget K to recommend, or both"),
    (["triage", "--encoders", "nope.x", "--tiny"], "unknown encoder 'nope.x'; valid: all, "),
    (["triage", "--encoders", CLIP, "--proxies", "vibes"], "unknown proxy 'vibes'"),
    (["triage", "--budget", "0"], "bad budget 0"),
    (["triage", "--encoders", CLIP, "--device", "cuda:0"], "bad device 'cuda:0': no CUDA"),
    (["triage", "--encoders", CLIP, "--device", "tpu"], "bad device 'tpu'; valid: auto, cpu"),
    (["sweep", "--encoders", "triage:x", "--preset", "smoke"], "bad encoder selector"),
])
def test_bad_input_is_one_error_line(triaged: tuple[Path, str], args: list[str],
                                                   message: str) -> None:
    _, db = triaged
    result = runner.invoke(app, [*args, "--db", db])
    # main() prints a HarnessError as one line and exits 2 (tests/harness/cli/test_commands.py).
    assert result.exit_code != 0 and isinstance(result.exception, HarnessError)
    assert message in str(result.exception) and "\n" not in str(result.exception)
