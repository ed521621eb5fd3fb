"""A test-sized preset (seconds of compute per run) shared by the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.preset import Preset, load_preset_file
from harness.recipe import RECIPES
from harness.sweep.plan import Run, plan_sweep

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
