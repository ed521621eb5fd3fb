"""Run keys are the hash of the resolved config; planning twice schedules nothing new."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from harness.preset import PRESETS
from harness.recipe import RECIPES
from harness.sweep.plan import plan_sweep, run_state

ENCODERS = ["clip-vit-l14-336.openai", "dinov2-vit-l14-518.lvd142m"]


def plan(root: Path, seeds=(0,), recipes=("frozen", "unfrozen"), preset=None):
    preset = preset or PRESETS.get("smoke")
    return plan_sweep(ENCODERS, [RECIPES.get(r) for r in recipes], preset, list(seeds), root)


def test_one_run_per_encoder_recipe_seed(tmp_path: Path) -> None:
    runs = plan(tmp_path, seeds=(0, 1))
    assert len(runs) == 2 * 2 * 2
    assert len({r.key for r in runs}) == len(runs)
    assert all(r.state == "new" and r.tiny for r in runs)


def test_keys_are_stable_and_follow_the_config(tmp_path: Path) -> None:
    first = {r.key for r in plan(tmp_path)}
    assert {r.key for r in plan(tmp_path / "elsewhere")} == first  # not tied to the folder
    smoke = PRESETS.get("smoke")
    more_data = dataclasses.replace(smoke, data=dataclasses.replace(smoke.data, n_train=7))
    assert {r.key for r in plan(tmp_path, preset=more_data)}.isdisjoint(first)
    # How a run executes (batch split, eval batch) does not change what it measures.
    other_batch = dataclasses.replace(smoke, micro_batch=4, eval_batch=3)
    assert {r.key for r in plan(tmp_path, preset=other_batch)} == first


def test_recipe_changes_give_new_keys(tmp_path: Path) -> None:
    frozen = RECIPES.get("frozen")
    bumped = dataclasses.replace(frozen, version=frozen.version + 1)
    smoke = PRESETS.get("smoke")
    a = plan_sweep(ENCODERS[:1], [frozen], smoke, [0], tmp_path)[0]
    b = plan_sweep(ENCODERS[:1], [bumped], smoke, [0], tmp_path)[0]
    assert a.key != b.key


def test_state_comes_from_the_run_folder(tmp_path: Path) -> None:
    runs = plan(tmp_path)
    done, failed = Path(runs[0].run_dir), Path(runs[1].run_dir)
    done.mkdir(parents=True)
    (done / "record.json").write_text(json.dumps({"status": "done"}))
    failed.mkdir(parents=True)
    (failed / "record.json").write_text(json.dumps({"status": "failed"}))
    states = [r.state for r in plan(tmp_path)]
    assert states[:2] == ["done", "failed"] and set(states[2:]) == {"new"}
    (failed / "record.json").write_text("{torn")
    assert run_state(failed) == "failed"


def test_preset_shrinks_the_recipe(tmp_path: Path) -> None:
    run = plan(tmp_path, recipes=("unfrozen",))[0]
    smoke = PRESETS.get("smoke")
    recipe = run.config.recipe
    assert recipe.stage("align").global_batch == smoke.stages["align"]["global_batch"]
    assert recipe.encoder_lr == smoke.recipe["encoder_lr"]
    frozen = plan(tmp_path, recipes=("frozen",))[0].config.recipe
    assert frozen.encoder_lr is None  # a frozen encoder has no learning rate to set
