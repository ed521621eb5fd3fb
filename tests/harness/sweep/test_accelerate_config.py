"""An accelerate config file becomes the environment ``accelerate launch`` would give a job;
FSDP in one (or in accelerate's environment) makes the run shard with the harness's own FSDP2;
a distributed setup the loop cannot train with (DeepSpeed) is refused in one line, from a
config file, a cluster profile or the sweep command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.sweep.accelerate_config import applied, launch_env

CONFIG = """compute_environment: LOCAL_MACHINE
distributed_type: {kind}
num_processes: 2
num_machines: 1
mixed_precision: bf16
use_cpu: {cpu}
"""
FSDP = """fsdp_config:
  fsdp_version: 2
  fsdp_state_dict_type: FULL_STATE_DICT
"""


def test_an_accelerate_config_becomes_the_launch_environment(tmp_path: Path,
                                                             monkeypatch) -> None:
    path = tmp_path / "cpu.yaml"
    path.write_text(CONFIG.format(kind="MULTI_CPU", cpu="true"))
    env = launch_env(path)
    assert env["ACCELERATE_USE_CPU"] == "True"
    assert env["ACCELERATE_DYNAMO_BACKEND"] == "NO"
    # The recipe sets the precision (it is part of the run key), not the config file.
    assert "ACCELERATE_MIXED_PRECISION" not in env
    assert all(k.startswith(("ACCELERATE_", "FSDP_")) for k in env)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "before")
    monkeypatch.delenv("ACCELERATE_DYNAMO_BACKEND", raising=False)
    with applied(path):
        assert os.environ["ACCELERATE_USE_CPU"] == "True"
        assert os.environ["ACCELERATE_DYNAMO_BACKEND"] == "NO"
    assert os.environ["ACCELERATE_USE_CPU"] == "before"
    assert "ACCELERATE_DYNAMO_BACKEND" not in os.environ
    with applied(None) as nothing:
        assert nothing == {}


def test_a_config_the_loop_cannot_train_with_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "DEEPSPEED.yaml"
    path.write_text(CONFIG.format(kind="DEEPSPEED", cpu="false"))
    with pytest.raises(HarnessError, match=rf"{path}: distributed_type DEEPSPEED is not"
                                           r" supported \(.*DeepSpeed takes over.*\); valid: NO,"
                                           r" MULTI_CPU, MULTI_GPU.*, FSDP$") as info:
        launch_env(path)
    assert "\n" not in str(info.value)


def test_an_fsdp_config_makes_the_run_shard(tmp_path: Path, mini_preset: Path) -> None:
    from harness.sweep.model import distributed_for

    from .conftest import plan_mini

    path = tmp_path / "fsdp.yaml"
    path.write_text(CONFIG.format(kind="FSDP", cpu="false") + FSDP)
    run = plan_mini(tmp_path / "runs", mini_preset)[0]
    assert distributed_for(run) == "ddp"
    with applied(path) as env:
        assert env["ACCELERATE_USE_FSDP"] == "true"
        assert distributed_for(run) == "fsdp"


def test_a_missing_or_broken_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"accelerate config .*nope.yaml: no such file"):
        launch_env(tmp_path / "nope.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text(CONFIG.format(kind="MULTI_GPU", cpu="false").replace(
        "num_processes: 2", "num_processes: -1"))
    with pytest.raises(HarnessError, match=r"bad.yaml: You need to manually pass in"):
        launch_env(path)


def test_fsdp_from_accelerate_launch_is_honoured_not_dropped(monkeypatch,
                                                          tmp_path: Path,
                                                          mini_preset: Path) -> None:
    """On CPU accelerate would quietly train with DDP instead: the harness shards itself."""
    from harness.sweep.model import distributed_for

    from .conftest import plan_mini

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert distributed_for(plan_mini(tmp_path / "runs", mini_preset)[0]) == "fsdp"


def test_one_process_makes_a_plain_accelerator() -> None:
    from accelerate.utils import DistributedType

    from harness.recipe import RECIPES
    from harness.sweep.model import make_accelerator

    accelerator = make_accelerator(RECIPES.get("frozen"))
    assert accelerator.distributed_type == DistributedType.NO
    assert accelerator.ddp_handler.find_unused_parameters is True


def test_a_profile_names_a_config_beside_it_and_the_sweep_checks_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli.app import app
    from harness.sweep.cluster import load_cluster

    (tmp_path / "ds.yaml").write_text(CONFIG.format(kind="DEEPSPEED", cpu="false"))
    (tmp_path / "gpus.toml").write_text('executor = "local"\naccelerate_config = "ds.yaml"\n')
    profile = load_cluster(str(tmp_path / "gpus.toml"))
    assert profile.accelerate_config == str((tmp_path / "ds.yaml").resolve())

    base = ["sweep", "--encoders", "clip-vit-l14-336.openai", "--preset", "smoke",
            "--dry-run", "--root", str(tmp_path / "runs")]
    for how in (["--cluster", str(tmp_path / "gpus.toml")],
                ["--accelerate-config", str(tmp_path / "ds.yaml")]):
        result = CliRunner().invoke(app, [*base, *how])
        # A HarnessError: the CLI's entry point prints it in one line and exits with 2.
        assert isinstance(result.exception, HarnessError), result.output
        assert "ds.yaml: distributed_type DEEPSPEED is not supported" in str(result.exception)


def test_a_job_builds_under_its_config(tmp_path: Path, mini_preset: Path) -> None:
    """RunJob applies the file around its runs (and carries it into a requeued job)."""
    from harness.sweep.job import RunJob

    from .conftest import plan_mini

    path = tmp_path / "ds.yaml"
    path.write_text(CONFIG.format(kind="DEEPSPEED", cpu="false"))
    job = RunJob(checkpoint_every_s=0, accelerate_config=str(path))
    run = plan_mini(tmp_path / "runs", mini_preset)[0]
    with pytest.raises(HarnessError, match="distributed_type DEEPSPEED is not supported"):
        job(run)
    assert job.checkpoint(run).function.accelerate_config == str(path)
