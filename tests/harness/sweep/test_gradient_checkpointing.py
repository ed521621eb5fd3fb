"""Gradient checkpointing: a preset switch that changes memory, never the numbers (so it stays
out of the run key), with in-LLM modules too (tests/harness/model/test_in_llm.py shows their
gradients equal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.preset import load_preset_file
from harness.recipe import RECIPES
from harness.record import read_record
from harness.sweep.job import RunJob
from harness.sweep.plan import plan_sweep

from .conftest import MINI_PRESET, plan_mini


@pytest.fixture
def checkpointed_preset(tmp_path: Path) -> Path:
    path = tmp_path / "checkpointed.toml"
    path.write_text(MINI_PRESET.replace('eval_batch = 6\n',
                                        'eval_batch = 6\ngradient_checkpointing = true\n'))
    return path


def test_the_switch_turns_every_decoder_layer_to_recompute() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from harness.sweep.model import enable_gradient_checkpointing

    llm = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=3, num_attention_heads=4))
    assert not any(layer.gradient_checkpointing for layer in llm.model.layers)
    enable_gradient_checkpointing(llm)
    assert all(layer.gradient_checkpointing for layer in llm.model.layers)


def test_a_checkpointed_run_trains_to_the_same_numbers(tmp_path: Path, mini_preset: Path,
                                                       checkpointed_preset: Path) -> None:
    plain = plan_mini(tmp_path / "plain", mini_preset)[0]
    checkpointed = plan_mini(tmp_path / "checkpointed", checkpointed_preset)[0]
    assert checkpointed.key == plain.key and checkpointed.gradient_checkpointing
    for run in (plain, checkpointed):
        assert RunJob(checkpoint_every_s=0).run_one(run) == "done"

    a, b = read_record(Path(plain.run_dir)), read_record(Path(checkpointed.run_dir))
    assert b.train["gradient_checkpointing"] == {"used": True}
    assert "gradient_checkpointing" not in a.train
    for stage in ("align", "finetune"):
        for field in ("first_loss", "final_loss"):
            assert b.train[stage][field] == pytest.approx(a.train[stage][field], rel=1e-5)
    assert [(s.subset, s.value) for s in a.scores] == [(s.subset, s.value) for s in b.scores]


def test_sva_with_in_llm_modules_plans_with_checkpointing(tmp_path: Path,
                                                         checkpointed_preset: Path) -> None:
    [run] = plan_sweep(["clip-vit-l14-336.openai+dinov2-vit-l14-518.lvd142m"],
                       [RECIPES.get("frozen")], load_preset_file(checkpointed_preset), [0],
                       tmp_path, connector="sva")
    assert run.gradient_checkpointing and run.config.connector.startswith("sva(")
