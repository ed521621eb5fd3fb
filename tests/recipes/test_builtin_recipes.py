"""The shipped recipes load, and a user's recipe file is checked key by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.preset import PRESETS
from harness.recipe import RECIPES, load_recipe_file

CAMBRIAN = ["cambrian-1stage-frozen", "cambrian-2stage-frozen-0.5m",
            "cambrian-2stage-frozen-1.2m", "cambrian-2stage-unfrozen-1.2m"]


def test_builtin_recipes_and_presets_load() -> None:
    assert {"frozen", "unfrozen", *CAMBRIAN} <= set(RECIPES.names())
    assert {"smoke", "probe-cpu"} <= set(PRESETS.names())
    assert RECIPES.problems == [] and PRESETS.problems == []


def test_cambrian_study_arms() -> None:
    one, half, full, unfrozen = (RECIPES.get(n) for n in CAMBRIAN)
    assert [s.name for s in one.stages] == ["finetune"]
    assert half.stage("align").samples == 500_000 and full.stage("align").samples == 1_200_000
    assert all(r.stage("finetune").samples == 737_000 for r in (one, half, full, unfrozen))
    assert unfrozen.encoder == "unfrozen" and unfrozen.encoder_lr < unfrozen.stages[-1].lr
    llava = RECIPES.get("frozen")
    assert (llava.stage("align").lr, llava.stage("align").global_batch) == (1e-3, 256)
    assert (llava.stage("finetune").lr, llava.stage("finetune").global_batch) == (2e-5, 128)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


def test_user_recipe_file(tmp_path: Path) -> None:
    recipe = load_recipe_file(write(tmp_path, """
name = "mine"
description = "one stage, unfrozen"
encoder = "unfrozen"
encoder_lr = 1e-6
[finetune]
lr = 4e-5
global_batch = 64
"""))
    assert recipe.name == "mine" and recipe.stage("finetune").lr == 4e-5


@pytest.mark.parametrize(("text", "message"), [
    ('name="x"\ndescription="d"\n[finetune]\nlr=1e-5\nglobal_batch=8\nbatch=3\n',
     "unknown key 'batch'; valid: "),
    ('name="x"\ndescription="d"\nencoder="warm"\n[finetune]\nlr=1e-5\nglobal_batch=8\n',
     "bad value 'warm'; valid: frozen, unfrozen"),
    ('name="x"\ndescription="d"\n[align]\nlr=1e-3\nglobal_batch=8\n',
     "stages must be [finetune] (one-stage) or [align, finetune]"),
    ('name="x"\ndescription="d"\nencoder="unfrozen"\n[finetune]\nlr=1e-5\nglobal_batch=8\n',
     "an unfrozen encoder needs encoder_lr"),
    ('name="x"\ndescription="d"\n[finetune]\nlr="fast"\nglobal_batch=8\n',
     "expected float, got 'fast'"),
    ("name = ", "not valid TOML"),
])
def test_bad_recipe_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(HarnessError) as err:
        load_recipe_file(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value).strip() or "TOML" in str(err.value)
