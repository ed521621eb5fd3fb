"""One short run on real weights end to end: SmolLM2-135M-Instruct over EfficientNet-Lite0's
ImageNet weights, trained a step per stage on both probes and scored on both, with and without
the image. Not a result (two steps learn nothing): the path real-weight sweeps take works."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli.app import app

PRESET = """
name = "real-mini"
description = "test-sized real-cpu"
llm = "smollm2-135m-instruct"
tiny_encoders = false
scale = "cpu"
recipes = ["frozen"]
seeds = [0]
benchmarks = ["probe", "probe-objects"]
blind_eval = true
micro_batch = 2
eval_batch = 4
save_model = "none"
[data]
seed = 3
kinds = ["shapes", "objects"]
n_align = 2
n_train = 4
n_test = 4
image_size = 96
[stages.align]
global_batch = 2
max_steps = 1
[stages.finetune]
global_batch = 2
max_steps = 1
[recipe]
precision = "bf16"
"""


def test_a_real_weight_run_trains_and_scores_both_probes(tmp_path: Path, monkeypatch,
                                                         smollm2_cache: Path) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(smollm2_cache))
    preset = tmp_path / "real-mini.toml"
    preset.write_text(PRESET)
    result = CliRunner().invoke(app, [
        "sweep", "--encoders", "effnet-lite0-224.in1k", "--preset", str(preset), "--root",
        str(tmp_path / "runs"), "--db", f"sqlite:///{tmp_path / 'h.db'}", "--executor", "debug",
        "--format", "json"])
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    assert run["state"] == "done"
    record = json.loads((tmp_path / "runs" / "runs" / run["key"] / "record.json").read_text())
    assert record["smoke"] is False and record["encoder"]["weights"]
    assert record["scale"] == "cpu"  # real, and marked as CPU-scale wherever it is shown
    assert record["llm"] == "smollm2-135m-instruct"
    overall = {(s["benchmark"], s["metric"]) for s in record["scores"]
               if s["subset"] == "overall"}
    for benchmark in ("probe", "probe-objects"):
        assert {(benchmark, "accuracy"), (benchmark, "accuracy_blind")} <= overall, overall
