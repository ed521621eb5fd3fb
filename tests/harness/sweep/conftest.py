"""A test-sized preset (seconds of compute per run) shared by the sweep tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.preset import Preset, load_preset_file
from harness.recipe import RECIPES
from harness.sweep.execute import execute
from harness.sweep.job import RunJob
from harness.sweep.plan import Run, plan_sweep
from harness.sweep.preempt import Preempted, Preemption
from harness.sweep.run_context import RunContext

# The smoke preset shrunk to a few optimizer steps on a few dozen samples (as in
# tests/test_end_to_end.py), with enough steps per stage to stop in the middle of one.
MINI_PRESET = """
name = "mini"
description = "test-sized smoke"
llm = "tiny-llama"
tiny_encoders = true
recipes = ["frozen", "unfrozen"]
micro_batch = 2
eval_batch = 6
[data]
seed = 1
n_align = 8
n_train = 12
n_test = 9
image_size = 64
[stages.align]
global_batch = 4
max_steps = 3
[stages.finetune]
global_batch = 4
max_steps = 4
[recipe]
encoder_lr = 1e-4
precision = "fp32"
[connector_defaults.sva]
grid = 4
hidden = 16
heads = 2
layers = 1
"""


@pytest.fixture
def mini_preset(tmp_path: Path) -> Path:
    path = tmp_path / "mini.toml"
    path.write_text(MINI_PRESET)
    return path


def plan_mini(root: Path, preset: Path, encoders=("clip-vit-l14-336.openai",),
              recipes=("unfrozen",), seeds=(0,)) -> list[Run]:
    chosen: Preset = load_preset_file(preset)
    return plan_sweep(list(encoders), [RECIPES.get(r) for r in recipes], chosen, list(seeds),
                      root)


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


def straight_and_resumed(tmp_path: Path, preset: Path, encoders=("clip-vit-l14-336.openai",)
                         ) -> tuple[Run, Run]:
    """The same run twice, both finished: once in one go, once stopped at finetune step 2
    and resumed."""
    straight, stopped = (plan_mini(tmp_path / name, preset, encoders=encoders)[0]
                         for name in ("straight", "stopped"))
    assert RunJob(checkpoint_every_s=0).run_one(straight) == "done"
    with pytest.raises(Preempted):
        execute(stopped, PreemptAt(stopped, "finetune", 2))
    assert RunJob(checkpoint_every_s=0).run_one(stopped) == "done"
    return straight, stopped


# ---------------------------------------------------------------- several processes, one job
# The job entry in a process of its own, joined into a gloo group as torchrun joins them.
# ``SLOW`` sleeps after each reported finetune step, so a kill can land mid-stage on any
# machine; it only stretches time, never the numbers.
JOB_CHILD = """
import sys, time
from pathlib import Path
from harness.sweep import job
from harness.sweep.plan import load_run

run_dir, config, every_s, slow = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), \\
    float(sys.argv[4])
report = job.RunContext.__call__

def slowed(self, stage, step, total, loss=None, force=False):
    report(self, stage, step, total, loss, force)
    if stage == "finetune" and slow:
        time.sleep(slow)

job.RunContext.__call__ = slowed
print(job.RunJob(checkpoint_every_s=every_s, accelerate_config=config or None).run_one(
    load_run(run_dir)))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_job(run_dir: Path, world: int, config: Path | None = None, every_s: float = 0.0,
              slow: float = 0.0) -> list[subprocess.Popen]:
    """``world`` processes running the run's job as one group on 127.0.0.1."""
    port = free_port()
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", JOB_CHILD, str(run_dir), str(config or ""), str(every_s),
             str(slow)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def finish_job(procs: list[subprocess.Popen], timeout: float = 300) -> list[str]:
    """Each process's last line (the run's status), once all have exited cleanly."""
    outs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]
            outs.append(out.strip().splitlines()[-1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outs


def launch_job(run_dir: Path, world: int, config: Path | None = None,
               timeout: float = 300) -> list[str]:
    return finish_job(start_job(run_dir, world, config), timeout)


def preset_with(tmp_path: Path, name: str, changes: dict[str, str]) -> Path:
    """The mini preset with each ``old`` text replaced by ``new`` (each must occur)."""
    text = MINI_PRESET
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path
