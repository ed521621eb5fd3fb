"""The pieces of ``harness.parallel`` that need no second process: which modules become FSDP
units, tied names, the strategy names, and the plan-time refusal of what cannot be sharded.
(Training, checkpoints and evaluation under FSDP run in tests/harness/sweep/test_fsdp.py.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.loaders import build_encoder
from harness.parallel import decoder_layers, encoder_blocks, make_parallel, without_aliases


@pytest.mark.parametrize(("encoder_id", "blocks", "kind"), [
    ("clip-vit-l14-336.openai", "model.blocks", "Block"),
    ("dinov2-vit-l14-336.lvd142m", "model.encoder.layer", "Dinov2Layer"),
    # Its stages, not its (bigger, unused) classifier head of mixed layers.
    ("openclip-convnext-l-512.laion2b", "model.stages", "ConvNeXtStage"),
])
def test_an_encoders_repeated_blocks_become_its_units(encoder_id: str, blocks: str,
                                                      kind: str) -> None:
    encoder = build_encoder(ENCODERS.get(encoder_id), tiny=True)
    found = encoder_blocks(encoder)
    assert found == list(encoder.get_submodule(blocks))
    assert len(found) > 1 and {type(b).__name__ for b in found} == {kind}


def test_an_llm_without_decoder_layers_cannot_be_sharded() -> None:
    with pytest.raises(HarnessError, match=r"^fsdp: LLM Linear has no decoder layers to shard"):
        decoder_layers(nn.Linear(2, 2))


def test_an_unknown_strategy_is_refused() -> None:
    with pytest.raises(HarnessError, match=r"unknown distributed 'zero3'; valid: ddp, fsdp"):
        make_parallel(None, nn.Linear(2, 2), "zero3", "fp32")


def test_a_tied_tensor_is_written_once_under_its_first_name() -> None:
    shared = torch.ones(3)
    kept = without_aliases({"llm.model.embed_tokens.weight": shared,
                            "llm.lm_head.weight": shared, "connector.w": torch.zeros(2)})
    # safetensors' own save_model keeps the same name, so the files read alike.
    assert sorted(kept) == ["connector.w", "llm.lm_head.weight"]


# ---------------------------------------------------------------- refused at plan time
def _plan(tmp_path: Path, **changes):
    from harness.preset import PRESETS
    from harness.recipe import RECIPES
    from harness.sweep.plan import plan_sweep

    preset = dataclasses.replace(PRESETS.get("smoke"), distributed="fsdp", **changes)
    return plan_sweep(["clip-vit-l14-336.openai"], [RECIPES.get("frozen")], preset, [0],
                      tmp_path)


def test_an_fsdp_sweep_plans_with_the_built_in_connectors(tmp_path: Path) -> None:
    runs = _plan(tmp_path)
    assert [r.distributed for r in runs] == ["fsdp"]


def test_a_connector_that_cannot_be_sharded_is_refused_at_plan_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.sweep import sizes

    real = sizes.CONNECTORS.get
    monkeypatch.setattr(sizes.CONNECTORS, "get", lambda name: dataclasses.replace(
        real(name), shardable=False, shardable_why="its forward reads a global buffer"))
    with pytest.raises(HarnessError) as info:
        _plan(tmp_path)
    message = str(info.value)
    assert message.startswith("distributed fsdp: connector 'mlp2x_gelu' cannot be sharded"
                              " (its forward reads a global buffer); use distributed = \"ddp\"")
    assert "\n" not in message


def test_an_llm_without_decoder_layers_is_refused_at_plan_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from harness.sweep import sizes

    def gpt2(spec):  # GPT-2 keeps its blocks in transformer.h, not in decoder layers
        with torch.device("meta"):
            return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=8, n_head=2))

    monkeypatch.setattr(sizes, "llm_skeleton", gpt2)
    with pytest.raises(HarnessError, match=r"^fsdp: LLM GPT2LMHeadModel has no decoder layers"):
        _plan(tmp_path)
