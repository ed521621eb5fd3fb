"""Training under FSDP (``distributed = "fsdp"``: torch's FSDP2 over gloo here, two CPU
processes): the same weights as one process with the same global batch, sharded checkpoints
that resume a SIGKILLed job bit-identically, evaluation spread over both processes with the
predictions one process makes, and a saved ``model/`` that ``harness eval`` reads as it is."""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from harness.record import read_record
from harness.sweep.model import load_model
from harness.sweep.plan import load_run, write_config

from .conftest import finish_job, launch_job, plan_mini, preset_with, start_job

# Two optimizer steps per stage at global batch 8 (one process: 4 micro-batches of 2; two
# processes: 2 each); every part of the model kept to compare.
FSDP_PRESET = {"n_align = 8\n": "n_align = 16\n", "n_train = 12\n": "n_train = 16\n",
               "global_batch = 4\nmax_steps = 3\n": "global_batch = 8\nmax_steps = 2\n",
               "global_batch = 4\nmax_steps = 4\n": "global_batch = 8\nmax_steps = 4\n",
               "eval_batch = 6\n": 'eval_batch = 6\nsave_model = "all"\n'
                                   'distributed = "fsdp"\n'}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model" / "model.safetensors"))


def _answers(run_dir: Path) -> list[tuple[str, str]]:
    lines = (run_dir / "predictions" / "probe.jsonl").read_text().splitlines()
    return [(p["idx"], p["output"]) for p in map(json.loads, lines)]


def _kill_after(run_dir: Path, checkpoint: Path, delay: float) -> None:
    """Start the run's two-process job (checkpointing every step), SIGKILL both processes
    ``delay`` seconds after ``checkpoint`` appears."""
    victims = start_job(run_dir, 2, every_s=1e-9, slow=0.3)
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert all(v.poll() is None for v in victims), victims[0].communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"no {checkpoint.parent.name} in time"
        time.sleep(0.01)
    time.sleep(delay)
    for victim in victims:
        victim.send_signal(signal.SIGKILL)
    for victim in victims:
        victim.wait(timeout=60)


@pytest.fixture(scope="module")
def fsdp_runs(tmp_path_factory) -> dict[str, Path]:
    """The same run trained by one process (no sharding) and by two under FSDP."""
    root = tmp_path_factory.mktemp("fsdp")
    ddp = preset_with(root, "one", {**FSDP_PRESET, 'distributed = "fsdp"\n': ""})
    fsdp = preset_with(root, "fsdp", FSDP_PRESET)
    one = plan_mini(root / "one", ddp)[0]
    two = plan_mini(root / "two", fsdp)[0]
    assert one.key == two.key  # how the processes share the model is not part of the key
    assert (one.distributed, two.distributed) == ("auto", "fsdp")
    for run in (one, two):
        write_config(run)
    assert launch_job(Path(one.run_dir), 1) == ["done"]
    assert launch_job(Path(two.run_dir), 2) == ["done", "done"]
    return {"one": Path(one.run_dir), "two": Path(two.run_dir)}


@pytest.mark.slow
def test_two_fsdp_processes_train_the_weights_one_process_does(fsdp_runs) -> None:
    a, b = read_record(fsdp_runs["one"]), read_record(fsdp_runs["two"])
    for stage in ("align", "finetune"):
        assert (a.train[stage]["processes"], b.train[stage]["processes"]) == (1, 2)
        assert (a.train[stage]["distributed"], b.train[stage]["distributed"]) == ("ddp", "fsdp")
        assert b.train[stage]["final_loss"] == pytest.approx(a.train[stage]["final_loss"],
                                                             rel=1e-5)
    ours, theirs = _weights(fsdp_runs["two"]), _weights(fsdp_runs["one"])
    assert ours.keys() == theirs.keys()
    assert {k.split(".")[0] for k in ours} == {"encoder", "connector", "llm"}
    # The tolerance stated in the README: the same sums in another order (reduce-scatter
    # instead of one process's accumulation), fp32 rounding and nothing more.
    different = {k: (ours[k] - theirs[k]).abs().max().item() for k in ours
                 if not torch.allclose(ours[k], theirs[k], rtol=0, atol=1e-5)}
    assert not different, different


@pytest.mark.slow
def test_fsdp_evaluation_is_spread_over_the_processes_and_merged(fsdp_runs) -> None:
    folder = fsdp_runs["two"] / "predictions"
    # The shares were merged into one file per benchmark, in item order, and removed.
    assert sorted(p.name for p in folder.glob("*.jsonl")) == ["probe.jsonl"]
    assert _answers(fsdp_runs["two"]) == _answers(fsdp_runs["one"])
    a, b = read_record(fsdp_runs["one"]), read_record(fsdp_runs["two"])
    assert [(s.metric, s.subset, s.value, s.n) for s in a.scores] == \
        [(s.metric, s.subset, s.value, s.n) for s in b.scores]


@pytest.mark.slow
def test_a_saved_fsdp_model_loads_whole_in_one_process(fsdp_runs) -> None:
    model, _, info = load_model(load_run(fsdp_runs["two"]))
    assert info["parts"] == ["encoder", "connector", "llm"] and info["rebuilt"] == {}
    saved = _weights(fsdp_runs["two"])
    state = model.state_dict()
    assert all(torch.equal(state[k], saved[k]) for k in saved)


@pytest.mark.slow
def test_sigkilled_fsdp_job_resumes_bit_identically(tmp_path: Path, fsdp_runs) -> None:
    preset = preset_with(tmp_path, "fsdp", FSDP_PRESET)
    killed = plan_mini(tmp_path / "killed", preset)[0]
    write_config(killed)
    progress = Path(killed.run_dir) / "checkpoints" / "progress-finetune" / "meta.json"
    delay = random.uniform(0.0, 0.5)  # mid-step to mid-save; printed on failure
    _kill_after(Path(killed.run_dir), progress, delay)
    meta = json.loads(progress.read_text())
    assert (meta["distributed"], meta["world"]) == ("fsdp", 2)
    shards = sorted(p.name for p in (progress.parent / "shards").iterdir())
    assert all(name.endswith(".safetensors") for name in shards) and len(shards) == 2

    assert launch_job(Path(killed.run_dir), 2) == ["done", "done"]
    straight, resumed = read_record(fsdp_runs["two"]), read_record(Path(killed.run_dir))
    assert 0 < resumed.train["finetune"]["resumed_at_step"] <= 4, delay
    assert resumed.train["align"]["restored"] is True
    assert straight.train["finetune"]["final_loss"] == resumed.train["finetune"]["final_loss"]
    ours, theirs = _weights(Path(killed.run_dir)), _weights(fsdp_runs["two"])
    different = [k for k in ours if not torch.equal(ours[k], theirs[k])]
    assert not different, (f"killed {delay:.3f}s after the first finetune checkpoint:"
                           f" {len(different)} tensors differ, e.g. {different[:3]}")


@pytest.mark.slow
def test_a_sharded_checkpoint_refuses_another_world_size(tmp_path: Path) -> None:
    preset = preset_with(tmp_path, "fsdp", FSDP_PRESET)
    run = plan_mini(tmp_path / "runs", preset)[0]
    write_config(run)
    stage = Path(run.run_dir) / "checkpoints" / "stage-align" / "meta.json"
    _kill_after(Path(run.run_dir), stage, 0.0)

    assert finish_job(start_job(Path(run.run_dir), 1)) == ["failed"]
    error = read_record(Path(run.run_dir)).error
    assert "written by 2 process(es) under fsdp, this job runs 1 under fsdp" in error
    assert "\n" not in error
    # Nothing is lost: the checkpoint is still there for a job of the right size.
    assert stage.exists()


@pytest.mark.slow
def test_sva_with_in_llm_modules_trains_under_fsdp_as_in_one_process(tmp_path: Path) -> None:
    """Cambrian's connector on two encoders: its in-LLM modules hook decoder layers that are
    FSDP units of their own, while their parameters live in the root unit; and activation
    checkpointing (on in the FSDP run only) composes with both."""
    pair = ("clip-vit-l14-336.openai+dinov2-vit-l14-336.lvd142m",)
    one = plan_mini(tmp_path / "one", preset_with(
        tmp_path, "one", {**FSDP_PRESET, 'distributed = "fsdp"\n': ""}), encoders=pair)[0]
    two = plan_mini(tmp_path / "two", preset_with(tmp_path, "two", {
        **FSDP_PRESET, 'distributed = "fsdp"\n': 'distributed = "fsdp"\n'
                                                 "gradient_checkpointing = true\n"}),
                    encoders=pair)[0]
    assert one.config.connector.startswith("sva")
    for run in (one, two):
        write_config(run)
    assert launch_job(Path(one.run_dir), 1) == ["done"]
    assert launch_job(Path(two.run_dir), 2) == ["done", "done"]
    ours, theirs = _weights(Path(two.run_dir)), _weights(Path(one.run_dir))
    assert any(k.startswith("connector.in_llm.") for k in ours)
    assert read_record(Path(two.run_dir)).train["gradient_checkpointing"] == {"used": True}
    different = {k: (ours[k] - theirs[k]).abs().max().item() for k in ours
                 if not torch.allclose(ours[k], theirs[k], rtol=0, atol=1e-5)}
    assert not different, different


@pytest.mark.slow
def test_fsdp_on_one_process_trains_and_leaves_no_process_group(tmp_path: Path) -> None:
    """One GPU under FSDP (here one CPU process, in this one): a process group of one is
    started for the run and given back after it, so the job's next run starts clean."""
    import torch.distributed as dist

    from harness.sweep.job import RunJob

    run = plan_mini(tmp_path / "runs", preset_with(tmp_path, "fsdp", FSDP_PRESET))[0]
    assert not dist.is_initialized()
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    assert not dist.is_initialized()
    record = read_record(Path(run.run_dir))
    assert record.train["finetune"]["distributed"] == "fsdp"
    assert record.train["finetune"]["processes"] == 1
    assert {k.split(".")[0] for k in _weights(Path(run.run_dir))} == {
        "encoder", "connector", "llm"}
