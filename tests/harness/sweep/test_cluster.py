"""Cluster profiles: found by name or path, overridden by flags, turned into sbatch options,
and bad values rejected with one line naming them."""

from __future__ import annotations

from pathlib import Path

import pytest
from submitit.slurm.slurm import _make_sbatch_string

from harness.errors import HarnessError
from harness.sweep.cluster import (
    SlurmSettings,
    cluster_names,
    load_cluster,
    override,
    parse_sbatch_options,
)


def test_builtin_profiles_load() -> None:
    assert {"local-slurm", "example-gpu"} <= set(cluster_names())
    gpu = load_cluster("example-gpu")
    assert gpu.executor == "slurm" and gpu.slurm.tasks_per_node == 8
    assert gpu.slurm.sbatch == {"exclude": "gpu-node07", "mail-type": "FAIL"}


def test_a_profile_in_the_working_directory_comes_first(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "local-slurm.toml").write_text(
        'description = "mine"\n[slurm]\npartition = "mine"\n')
    profile = load_cluster("local-slurm")
    assert profile.name == "local-slurm" and profile.slurm.partition == "mine"


def test_sbatch_script_carries_every_setting() -> None:
    settings = override(load_cluster("example-gpu").slurm, partition="h100", time_min=30,
                        sbatch={"comment": "study"})
    script = _make_sbatch_string(command="python job.py", folder="/tmp/x",
                                 **settings.submitit_parameters())
    for line in ("--partition=h100", "--account=my-lab", "--qos=normal",
                 "--constraint='a100|h100'", "--time=30", "--nodes=1", "--ntasks-per-node=8",
                 "--gpus-per-task=1", "--cpus-per-task=10", "--mem=491520M",
                 "--signal=USR2@180", "--requeue", "--exclude=gpu-node07",
                 "--mail-type=FAIL", "--comment=study"):
        assert f"#SBATCH {line}\n" in script, line
    assert "module load cuda/12.4\n" in script


def test_flags_override_only_what_was_given() -> None:
    base = SlurmSettings(partition="a", account="lab", sbatch={"exclude": "n1"})
    changed = override(base, partition="b", account=None, sbatch={"comment": "x"})
    assert (changed.partition, changed.account) == ("b", "lab")
    assert changed.sbatch == {"exclude": "n1", "comment": "x"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"partition": "gpu\nrm -rf ~"}, "bad partition 'gpu\\nrm -rf ~': control characters"),
    ({"time_min": 0}, "bad time_min 0: must be at least 1"),
    ({"gpus_per_task": -1}, "bad gpus_per_task -1: must be 0 or more"),
    ({"sbatch": {"--exclude": "n1"}}, "bad sbatch option '--exclude'"),
])
def test_bad_settings_name_the_value(settings: dict, message: str) -> None:
    with pytest.raises(HarnessError, match="^" + message.replace("|", r"\|")
                       .replace("(", r"\(").replace("\\n", "\\\\n")):
        SlurmSettings(**settings)


def test_bad_profiles_and_options(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="unknown cluster 'nope'; valid: .*local-slurm"):
        load_cluster("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[slurm]\npartitio = "x"\n')
    with pytest.raises(HarnessError, match="unknown key 'partitio'; valid: account, "):
        load_cluster(str(bad))
    with pytest.raises(HarnessError, match="bad --sbatch 'exclude': expected KEY=VALUE"):
        parse_sbatch_options(["exclude"])
    assert parse_sbatch_options(["--exclude=n1", "mail-type=FAIL"]) == {
        "exclude": "n1", "mail-type": "FAIL"}
