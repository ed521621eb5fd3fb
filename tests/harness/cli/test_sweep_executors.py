"""`harness sweep`: the executor and its settings are explicit in the plan, and settings that
cannot apply are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError

runner = CliRunner()
BASE = ["sweep", "--encoders", "clip-vit-l14-336.openai", "--preset", "smoke", "--dry-run"]


def test_the_plan_names_the_executor_and_its_slurm_settings(tmp_path: Path) -> None:
    result = runner.invoke(app, [*BASE, "--root", str(tmp_path), "--cluster", "local-slurm",
                                 "--partition", "gpu", "--time", "90", "--sbatch",
                                 "comment=study", "--format", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["executor"] == "slurm" and plan["runs_per_job"] == 1
    settings = plan["executor_settings"]
    assert (settings["partition"], settings["time_min"], settings["cpus_per_task"]) == \
        ("gpu", 90, 1)  # flags over the profile, the rest from the profile
    assert settings["sbatch"] == {"comment": "study"}

    table = runner.invoke(app, [*BASE, "--root", str(tmp_path), "--parallel", "2"])
    assert "Plan (executor: local (2 jobs at once, 1 run per job))" in " ".join(
        table.output.split())


@pytest.mark.parametrize(("args", "message"), [
    (["--partition", "gpu"], "--partition only apply to --executor slurm (this sweep runs on"
                             " 'local')"),
    (["--executor", "debug", "--no-wait"], "--no-wait needs --executor slurm"),
    (["--cluster", "nowhere"], "unknown cluster 'nowhere'; valid: example-gpu, local-slurm"),
    (["--cluster", "local-slurm", "--time", "0"], "bad time_min 0: must be at least 1"),
    (["--cluster", "local-slurm", "--sbatch", "exclude"], "bad --sbatch 'exclude'"),
])
def test_settings_that_cannot_apply_are_user_errors(tmp_path: Path, args: list[str],
                                                    message: str) -> None:
    result = runner.invoke(app, [*BASE, "--root", str(tmp_path), *args])
    assert isinstance(result.exception, HarnessError), result.output
    assert str(result.exception).startswith(message)


def test_slurm_without_sbatch_is_a_user_error(tmp_path: Path, monkeypatch) -> None:
    import harness.sweep.submit as submit

    monkeypatch.setattr(submit.shutil, "which", lambda name: None)
    with pytest.raises(HarnessError, match="--executor slurm needs SLURM's sbatch on PATH"):
        submit.make_executor("slurm", tmp_path)
