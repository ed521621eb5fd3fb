"""The whole loop on a CPU in seconds: sweep -> train -> evaluate -> record -> store -> rerun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.store import Store

runner = CliRunner()

# The smoke preset shrunk further: a couple of optimizer steps on a few dozen samples.
MINI_PRESET = """
name = "mini"
description = "test-sized smoke"
llm = "tiny-llama"
tiny_encoders = true
recipes = ["frozen", "unfrozen"]
micro_batch = 4
eval_batch = 6
[data]
seed = 1
n_align = 8
n_train = 12
n_test = 9
image_size = 64
[stages.align]
global_batch = 4
max_steps = 2
[stages.finetune]
global_batch = 4
max_steps = 2
[recipe]
encoder_lr = 1e-4
precision = "fp32"
"""


@pytest.fixture
def mini(tmp_path: Path) -> dict[str, str]:
    preset = tmp_path / "mini.toml"
    preset.write_text(MINI_PRESET)
    return {"preset": str(preset), "root": str(tmp_path / "runs"),
            "db": f"sqlite:///{tmp_path / 'h.db'}"}


# One encoder per group the dashboard compares: the whole zoo would make this test minutes long.
THREE = "clip-vit-l14-336.openai,dinov2-vit-l14-518.lvd142m,openclip-convnext-l-512.laion2b"


def sweep(mini: dict[str, str], *extra: str, executor: str = "debug", encoders: str = THREE):
    return runner.invoke(app, ["sweep", "--encoders", encoders, "--preset", mini["preset"],
                               "--root", mini["root"], "--db", mini["db"],
                               "--executor", executor, *extra])


def test_sweep_trains_evaluates_stores_and_skips_on_rerun(mini) -> None:
    first = sweep(mini)
    assert first.exit_code == 0, first.output
    n_runs = 3 * 2
    assert f"Planned {n_runs} runs: {n_runs} to run" in first.output
    # Each finished run says how far the sweep is, and from the second on, the time left.
    assert f"[1/{n_runs} runs, ~" in first.output and f"[{n_runs}/{n_runs} runs] ok" in first.output
    assert "Leaderboard (SMOKE: random-weight twins, not real scores)" in first.output
    assert "harness serve" in first.output

    records = sorted(Path(mini["root"]).glob("runs/*/record.json"))
    assert len(records) == n_runs
    record = json.loads(records[0].read_text())
    assert record["status"] == "done" and record["smoke"] is True
    assert record["encoder"]["distribution"] == "encoder-harness"
    assert record["train"]["finetune"]["steps"] == 2
    assert len(record["train"]["finetune"]["losses"]) == 2  # the loss curve, step by step
    overall = next(s for s in record["scores"] if s["subset"] == "overall")
    assert overall["n"] == 9 and 0 <= overall["value"] <= 100 and overall["prompt_hash"]
    predictions = records[0].parent / "predictions" / "probe.jsonl"
    assert len(predictions.read_text().splitlines()) == 9

    store = Store(mini["db"])
    rows = store.leaderboard(benchmark="probe", subset="overall")
    assert len(rows) == n_runs and all(r["smoke"] for r in rows)
    assert {r["group"] for r in rows} == {"clip", "ssl", "convnext"}

    second = sweep(mini)
    assert second.exit_code == 0, second.output
    assert f"Nothing new to run: all {n_runs} planned runs already ran" in second.output
    assert len(store.leaderboard(benchmark="probe", subset="overall")) == n_runs


def test_a_crashing_run_is_recorded_and_the_sweep_goes_on(mini, monkeypatch) -> None:
    import harness.sweep.job as job

    real_execute = job.execute

    def execute(run, status):
        if run.config.recipe.name == "unfrozen":
            raise RuntimeError("simulated out-of-memory")
        return real_execute(run, status)

    monkeypatch.setattr(job, "execute", execute)
    result = sweep(mini, encoders="dinov2-vit-l14-518.lvd142m")
    assert result.exit_code == 1
    assert "1 run(s) failed" in result.output and "simulated out-of-memory" in result.output
    states = {json.loads(p.read_text())["recipe"]: json.loads(p.read_text())["status"]
              for p in Path(mini["root"]).glob("runs/*/record.json")}
    assert states == {"frozen": "done", "unfrozen": "failed"}
    assert "simulated out-of-memory" in next(Path(mini["root"]).glob("runs/*/error.log"))\
        .read_text()

    monkeypatch.setattr(job, "execute", real_execute)
    again = sweep(mini, encoders="dinov2-vit-l14-518.lvd142m")
    assert "Nothing new to run" in again.output and "--rerun-failed" in again.output
    retried = sweep(mini, "--rerun-failed", encoders="dinov2-vit-l14-518.lvd142m")
    assert retried.exit_code == 0, retried.output
    assert "Planned 2 runs: 1 to run, 1 already ran" in retried.output


def test_json_output_is_the_json_alone(mini) -> None:
    result = sweep(mini, "--format", "json", "--recipes", "frozen",
                   encoders="dinov2-vit-l14-518.lvd142m")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # no progress, no leaderboard table around it
    assert [r["state"] for r in data["runs"]] == ["done"] and len(data["leaderboard"]) == 1
    assert "Planned 1 runs: 1 to run" in result.stderr and "runs] ok" not in result.output


def test_local_executor_runs_each_job_in_a_subprocess(mini) -> None:
    result = sweep(mini, "--recipes", "frozen", executor="local",
                   encoders="clip-vit-l14-336.openai")
    assert result.exit_code == 0, result.output
    record = json.loads(next(Path(mini["root"]).glob("runs/*/record.json")).read_text())
    assert record["status"] == "done" and record["job_id"]  # submitit gave it a job id
