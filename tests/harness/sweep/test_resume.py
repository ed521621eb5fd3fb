"""A run stopped in the middle of a stage (as by preemption, or killed with SIGKILL) continues
exactly: the resumed run's losses, scores and final weights equal those of a run that was never
stopped."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from harness.record import read_record
from harness.sweep.checkpoint import RunCheckpoints
from harness.sweep.execute import execute
from harness.sweep.job import RunJob
from harness.sweep.model import load_model
from harness.sweep.plan import load_run, write_config
from harness.sweep.preempt import Preempted

from .conftest import PreemptAt, finish_job, plan_mini, start_job, straight_and_resumed


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


# ---------------------------------------------------------------- a real kill, a real resume
# Every step checkpointed (as CHECKPOINT_EVERY_S would, given time), a finetune long enough
# to be killed in the middle of, and every part of the model kept to compare.
KILL_PRESET = {"eval_batch = 6\n": 'eval_batch = 6\nsave_model = "all"\n',
               "max_steps = 4\n": "max_steps = 8\n"}


def _job(run_dir: Path, every_s: float = 0.0, slow: float = 0.0) -> subprocess.Popen:
    """The run's job in a process of its own (``slow`` stretches each finetune step, so a
    kill lands mid-stage on any machine; it never changes the numbers)."""
    return start_job(run_dir, 1, every_s=every_s, slow=slow)[0]


def _finish(proc: subprocess.Popen) -> str:
    return finish_job([proc], timeout=600)[0]


def test_sigkill_mid_finetune_then_resume_gives_bit_identical_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from .conftest import MINI_PRESET

    text = MINI_PRESET
    for old, new in KILL_PRESET.items():
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "kill.toml").write_text(text)
    straight, killed = (plan_mini(tmp_path / name, tmp_path / "kill.toml")[0]
                        for name in ("straight", "killed"))
    assert straight.key == killed.key
    for run in (straight, killed):
        write_config(run)
    uninterrupted = _job(Path(straight.run_dir))
    victim = _job(Path(killed.run_dir), every_s=1e-9, slow=0.15)

    progress = Path(killed.run_dir) / "checkpoints" / "progress-finetune" / "meta.json"
    deadline = time.monotonic() + 600
    while not progress.exists():
        assert victim.poll() is None, victim.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no finetune checkpoint in time"
        time.sleep(0.01)
    # Anywhere from mid-step to mid-save: the kill point is arbitrary, and printed on failure.
    delay = random.uniform(0.0, 0.4)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (Path(killed.run_dir) / "record.json").exists()

    assert _finish(_job(Path(killed.run_dir))) == "done"
    assert _finish(uninterrupted) == "done"
    a, b = read_record(Path(straight.run_dir)), read_record(Path(killed.run_dir))
    resumed_at = b.train["finetune"]["resumed_at_step"]
    assert 0 < resumed_at <= 8, (delay, resumed_at)
    assert b.train["align"]["restored"] is True
    assert a.train["finetune"]["final_loss"] == b.train["finetune"]["final_loss"]
    ours = load_file(str(Path(killed.run_dir) / "model" / "model.safetensors"))
    theirs = load_file(str(Path(straight.run_dir) / "model" / "model.safetensors"))
    assert ours.keys() == theirs.keys()
    assert {k.split(".")[0] for k in ours} == {"encoder", "connector", "llm"}
    different = [k for k in ours if not torch.equal(ours[k], theirs[k])]
    assert not different, (f"killed {delay:.3f}s after the first finetune checkpoint, resumed"
                           f" at step {resumed_at}: {len(different)} tensors differ, e.g."
                           f" {different[:3]}")
    # save_model = "all": the folder alone gives the whole model back.
    model, _, info = load_model(load_run(Path(killed.run_dir)))
    assert info["parts"] == ["encoder", "connector", "llm"] and info["rebuilt"] == {}
    state = model.state_dict()
    assert all(torch.equal(state[k], ours[k]) for k in ours)


def test_resume_is_exact_with_dropout(tmp_path: Path, mini_preset: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropout draws from the global RNG, which a checkpoint restores: nothing else may draw
    from it between the restore and the first step (a data loader does, unless it has a
    generator of its own), or every mask after a resume differs from the uninterrupted run's."""
    from safetensors.torch import load_file

    from harness.sweep import model as run_model

    build = run_model.build_model

    def with_dropout(*args, **kwargs):
        model, tokenizer = build(*args, **kwargs)
        for layer in model.llm.model.layers:
            layer.self_attn.attention_dropout = 0.2
        return model, tokenizer

    monkeypatch.setattr(run_model, "build_model", with_dropout)
    straight, stopped = straight_and_resumed(tmp_path, mini_preset)
    a, b = read_record(Path(straight.run_dir)), read_record(Path(stopped.run_dir))
    assert b.train["finetune"]["resumed_at_step"] == 2
    assert a.train["finetune"]["final_loss"] == b.train["finetune"]["final_loss"]
    ours, theirs = (load_file(str(Path(r.run_dir) / "model" / "model.safetensors"))
                    for r in (stopped, straight))
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


@pytest.mark.parametrize(("spares", "step"), [((".tmp", ".old"), 2), ((".old",), 1)])
def test_a_kill_between_the_renames_of_a_save_loses_nothing(tmp_path: Path,
                                                           spares: tuple[str, ...],
                                                           step: int) -> None:
    """Killed after the previous checkpoint was moved aside but before the new one was moved
    in: the newest complete copy is put back."""
    import shutil

    model = torch.nn.Linear(3, 2)
    checkpoints = RunCheckpoints(tmp_path, "0123456789ab")
    final = checkpoints.root / "progress-finetune"
    checkpoints.save_progress("finetune", model, {"n": 1}, {"step": 1})
    shutil.copytree(final, tmp_path / "previous")
    checkpoints.save_progress("finetune", model, {"n": 2}, {"step": 2})
    (tmp_path / "previous").rename(checkpoints.root / ".progress-finetune.old")
    if ".tmp" in spares:
        final.rename(checkpoints.root / ".progress-finetune.tmp")
    else:
        shutil.rmtree(final)
    assert checkpoints.progress_meta("finetune")["step"] == step
    assert checkpoints.load_progress("finetune", model) == {"n": step}
