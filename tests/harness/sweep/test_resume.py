"""A run stopped in the middle of a stage (as by preemption) continues exactly: the resumed
run's losses and scores equal those of a run that was never stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.sweep.checkpoint import RunCheckpoints
from harness.sweep.job import RunContext, RunJob, execute
from harness.sweep.preempt import Preempted, Preemption
from harness.sweep.record import read_record

from .conftest import plan_mini


class PreemptAt(RunContext):
    """Raises the preemption flag once the run reports ``stage`` at ``step`` (as the signal
    handler would), so the job stops at the next safe point."""

    def __init__(self, run, stage: str, step: int) -> None:
        super().__init__(run, Preemption(), checkpoint_every_s=0)
        self.at = (stage, step)

    def __call__(self, stage: str, step: int, total: int, loss=None, force=False) -> None:
        super().__call__(stage, step, total, loss, force)
        if (stage, step) == self.at:
            self.preemption.request()


def test_checkpoint_files_hold_no_pickle(tmp_path: Path, mini_preset: Path) -> None:
    run = plan_mini(tmp_path / "a", mini_preset)[0]
    with pytest.raises(Preempted):
        execute(run, PreemptAt(run, "finetune", 2))
    checkpoints = Path(run.run_dir) / "checkpoints"
    names = sorted(p.relative_to(checkpoints).as_posix() for p in checkpoints.rglob("*")
                   if p.is_file())
    assert names == ["progress-finetune/meta.json", "progress-finetune/model.safetensors",
                     "progress-finetune/state.json", "progress-finetune/state.safetensors",
                     "stage-align/meta.json", "stage-align/model.safetensors"]
    meta = json.loads((checkpoints / "progress-finetune" / "meta.json").read_text())
    assert meta["run_key"] == run.key and meta["step"] == 2
    status = json.loads((Path(run.run_dir) / "status.json").read_text())
    assert status["stage"] == "preempted:finetune step 2"


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The run done in one go, to compare the resumed ones against."""
    from .conftest import MINI_PRESET

    root = tmp_path_factory.mktemp("straight")
    (root / "mini.toml").write_text(MINI_PRESET)
    run = plan_mini(root / "runs", root / "mini.toml")[0]
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    return Path(run.run_dir)


@pytest.mark.parametrize(("stage", "step"), [("align", 1), ("finetune", 3)])
def test_a_stopped_run_resumes_exactly(tmp_path: Path, mini_preset: Path, straight: Path,
                                       stage: str, step: int) -> None:

    stopped = plan_mini(tmp_path / "stopped", mini_preset)[0]
    assert stopped.key == straight.name
    with pytest.raises(Preempted):
        execute(stopped, PreemptAt(stopped, stage, step))
    assert not (Path(stopped.run_dir) / "record.json").exists()
    assert RunJob(checkpoint_every_s=0).run_one(stopped) == "done"

    a, b = read_record(straight), read_record(Path(stopped.run_dir))
    assert b.train[stage]["resumed_at_step"] == step
    for name in ("align", "finetune"):
        for field in ("first_loss", "final_loss", "steps"):
            assert a.train[name][field] == b.train[name][field], (name, field)
    assert [(s.subset, s.value) for s in a.scores] == [(s.subset, s.value) for s in b.scores]
    assert b.train["align"].get("restored") is (True if stage == "finetune" else None)
    assert not (Path(stopped.run_dir) / "checkpoints").exists()  # dropped once recorded


def test_a_checkpoint_of_another_run_is_never_resumed(tmp_path: Path,
                                                      mini_preset: Path) -> None:
    run = plan_mini(tmp_path, mini_preset)[0]
    with pytest.raises(Preempted):
        execute(run, PreemptAt(run, "finetune", 1))
    assert RunCheckpoints(Path(run.run_dir), run.key).stage_meta("align") is not None
    other = RunCheckpoints(Path(run.run_dir), "0123456789ab")
    assert other.stage_meta("align") is None and other.progress_meta("finetune") is None
