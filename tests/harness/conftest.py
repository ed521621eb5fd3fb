"""Fixtures shared by the library's tests: a finished run to evaluate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from harness.preset import load_preset_file
from harness.recipe import RECIPES
from harness.sweep.job import RunJob
from harness.sweep.plan import plan_sweep, write_config


def _mini_preset() -> str:
    # The sweep tests' small probe preset, read from their conftest (not importable by name:
    # every test folder's conftest is a module called "conftest").
    spec = importlib.util.spec_from_file_location(
        "sweep_conftest", Path(__file__).parent / "sweep" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MINI_PRESET


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A run of the frozen recipe trained to the end with the default ``save_model =
    "trainable"``: the connector and the LLM are saved, the tiny encoder twin is rebuilt."""
    root = tmp_path_factory.mktemp("finished")
    (root / "mini.toml").write_text(_mini_preset())
    run = plan_sweep(["clip-vit-l14-336.openai"], [RECIPES.get("frozen")],
                     load_preset_file(root / "mini.toml"), [0], root / "runs")[0]
    write_config(run)
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    return Path(run.run_dir)
