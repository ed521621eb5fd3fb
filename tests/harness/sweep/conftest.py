"""A test-sized preset (seconds of compute per run) shared by the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.preset import Preset, load_preset_file
from harness.recipe import RECIPES
from harness.sweep.job import RunContext, RunJob, execute
from harness.sweep.plan import Run, plan_sweep
from harness.sweep.preempt import Preempted, Preemption

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
