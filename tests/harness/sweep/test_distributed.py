"""Training on several processes goes through accelerate (DDP over gloo here, the processes
joined as torchrun joins them, the job under an accelerate config file): two processes end with
the same trained weights as one with the same global batch, and evaluate half the items each
into the predictions one process makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.sweep.plan import write_config

from .conftest import launch_job, plan_mini, preset_with

# Enough samples for 2 optimizer steps per stage with a global batch of 8: one process takes
# 4 micro-batches of 2 per step, two processes 2 each (no_sync on all but the last).
WORLD_PRESET = {"n_align = 8\n": "n_align = 16\n", "n_train = 12\n": "n_train = 16\n",
                "global_batch = 4\nmax_steps = 3\n": "global_batch = 8\nmax_steps = 2\n",
                "global_batch = 4\nmax_steps = 4\n": "global_batch = 8\nmax_steps = 2\n",
                "eval_batch = 6\n": 'eval_batch = 6\nsave_model = "all"\n'}

@pytest.mark.slow
def test_two_processes_train_the_weights_one_process_does(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from harness.record import read_record

    preset = preset_with(tmp_path, "world", WORLD_PRESET)
    one, two = (plan_mini(tmp_path / name, preset)[0] for name in ("one", "two"))
    for run in (one, two):
        write_config(run)
    assert launch_job(Path(one.run_dir), 1) == ["done"]
    config = tmp_path / "ddp.yaml"  # as `accelerate config` writes it for CPU processes
    config.write_text("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_CPU\n"
                      "num_machines: 1\nnum_processes: 2\nmixed_precision: 'no'\n"
                      "use_cpu: true\n")
    assert launch_job(Path(two.run_dir), 2, config) == ["done", "done"]

    a, b = read_record(Path(one.run_dir)), read_record(Path(two.run_dir))
    for stage in ("align", "finetune"):
        assert (a.train[stage]["processes"], b.train[stage]["processes"]) == (1, 2)
        assert (a.train[stage]["accumulation"], b.train[stage]["accumulation"]) == (4, 2)
        assert b.train[stage]["final_loss"] == pytest.approx(a.train[stage]["final_loss"],
                                                             rel=1e-5)
    ours = load_file(str(Path(two.run_dir) / "model" / "model.safetensors"))
    theirs = load_file(str(Path(one.run_dir) / "model" / "model.safetensors"))
    assert ours.keys() == theirs.keys()
    # The same sums in another order (gloo's all-reduce): fp32 rounding, nothing more. A
    # step whose gradients were not reduced moves the weights by orders of magnitude more.
    different = {k: (ours[k] - theirs[k]).abs().max().item() for k in ours
                 if not torch.allclose(ours[k], theirs[k], rtol=0, atol=1e-5)}
    assert not different, different


    # Evaluation on both processes, merged by rank 0 in item order: one process's answers.
    def answers(run) -> list[tuple[str, str]]:
        lines = (Path(run.run_dir) / "predictions" / "probe.jsonl").read_text().splitlines()
        return [(p["idx"], p["output"]) for p in map(json.loads, lines)]

    assert answers(two) == answers(one)
    assert [(s.metric, s.value) for s in a.scores] == [(s.metric, s.value) for s in b.scores]
