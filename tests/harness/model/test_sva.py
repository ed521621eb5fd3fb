"""``sva`` is Cambrian-1's SVA: its own code's outputs (float64, random weights, every
parameter random; data/cambrian-sva/README.md) reproduced from its state dicts, through the
connector and the in-LLM modules; the checkpoint layout read and written back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from harness.errors import HarnessError
from harness.model.cambrian import connector_from_state, export_connector_state
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.sva import llm_layers

DATA = Path(__file__).parent / "data" / "cambrian-sva"
CASES = json.loads((DATA / "cases.json").read_text())
SHAPES = [FeatureShape(t["dim"], tuple(t["grid"])) for t in CASES["towers"]]
TOLERANCE = 1e-10


def case(name: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(the state dict in Cambrian's layout, the inputs and outputs)."""
    tensors = load_file(DATA / f"{name}.safetensors")
    state = {k.removeprefix("state."): v for k, v in tensors.items() if k.startswith("state.")}
    return state, tensors


@pytest.mark.parametrize("name", sorted(CASES["cases"]))
def test_the_connector_gives_cambrians_tokens(name: str) -> None:
    state, t = case(name)
    connector = connector_from_state(state, SHAPES, CASES["llm_hidden"])
    settings = CASES["cases"][name]
    assert connector.groups_count == len(settings["query_num_list"])
    assert len(connector.samplers[0].layers) == settings["connector_depth"]
    assert len(connector.in_llm) == settings["in_llm_modules"]
    features = [t[f"input.{i}"] for i in range(len(SHAPES))]
    with torch.no_grad():
        tokens = connector(features)
        connector.newline = None  # the same module without the newline tokens
        plain = connector(features)
    assert tokens.shape == t["output.tokens"].shape == (2, 3 * 4, 48)
    assert (tokens - t["output.tokens"]).abs().max() < TOLERANCE
    assert (plain - t["output.tokens_no_newline"]).abs().max() < TOLERANCE


def test_the_in_llm_modules_give_cambrians_hidden_states() -> None:
    state, t = case("g2_d3_llm2")
    connector = connector_from_state(state, SHAPES, CASES["llm_hidden"])
    with torch.no_grad():
        _, keys = connector.forward_with_keys([t[f"input.{i}"] for i in range(len(SHAPES))])
        for j in range(CASES["cases"]["g2_d3_llm2"]["in_llm_modules"]):
            out = connector.aggregate_in_llm(j, t[f"input.llm_hidden.{j}"], keys)
            assert (out - t[f"output.llm_hidden.{j}"]).abs().max() < TOLERANCE


@pytest.mark.parametrize("prefix", [False, True])
def test_the_checkpoint_layout_is_written_back(prefix: bool) -> None:
    state, _ = case("g2_d3_llm2")
    connector = connector_from_state({("model." if prefix else "") + k: v
                                      for k, v in state.items()}, SHAPES, 48)
    back = export_connector_state(connector, prefix=prefix)
    assert set(back) == {("model." if prefix else "") + k for k in state}
    assert all(torch.equal(back[("model." if prefix else "") + k], v) for k, v in state.items())


def test_a_checkpoint_that_does_not_fit_is_one_line() -> None:
    state, _ = case("g1_d1")
    with pytest.raises(HarnessError, match="3 encoder projections, 2 encoder shapes"):
        connector_from_state(state, SHAPES[:2], 48)
    with pytest.raises(HarnessError, match="encoder 1: the checkpoint projects width 20"):
        connector_from_state(state, [SHAPES[0], FeatureShape(99, (6, 6)), SHAPES[2]], 48)
    with pytest.raises(HarnessError, match="writes width 48, the LLM takes 64"):
        connector_from_state(state, SHAPES, 64)
    with pytest.raises(HarnessError, match="no Cambrian connector weights"):
        connector_from_state({"lm_head.weight": torch.zeros(2, 2)}, SHAPES, 48)


def test_the_defaults_are_the_released_8b_configuration() -> None:
    spec = CONNECTORS.get("sva")
    connector = spec.create([FeatureShape(64, (8, 8))], llm_dim=64)
    assert spec.version == 2
    assert (connector.side, connector.hidden, connector.heads) == (24, 1024, 16)
    assert len(connector.samplers) == 1 and len(connector.samplers[0].layers) == 3
    assert connector.num_tokens == 24 * 25  # 576 image tokens and a newline per row
    assert llm_layers(32) == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]  # Cambrian-8B
    assert llm_layers(24) == [0, 3, 6, 9, 12, 15, 18, 21]
    assert llm_layers(40) == llm_layers(32)
    with pytest.raises(HarnessError, match="llm_start=5 is past the LLM's last layer"):
        llm_layers(4, start=5)


def test_a_query_sees_only_its_windows() -> None:
    torch.manual_seed(0)
    shapes = [FeatureShape(8, (4, 4)), FeatureShape(6, (8, 8))]
    connector = CONNECTORS.get("sva").create(shapes, 16, query_side=4, hidden=16, heads=2,
                                             depth=1, llm_modules=0, newline=False).eval()
    base = [torch.randn(1, 16, 8), torch.randn(1, 64, 6)]
    changed = base[1].clone().reshape(1, 8, 8, 6)
    changed[:, 6:, 6:] += 5.0  # encoder 1's bottom-right 2x2 window: query (3, 3)
    with torch.no_grad():
        a = connector(base)
        b = connector([base[0], changed.reshape(1, 64, 6)])
    # Encoder 1 is not encoder 0, so the global context does not carry the change.
    assert torch.allclose(a[:, 0], b[:, 0]) and not torch.allclose(a[:, 15], b[:, 15])


def test_sva_llm_is_retired_with_directions() -> None:
    with pytest.raises(HarnessError, match="'sva-llm' is retired: 'sva' is now Cambrian's"):
        CONNECTORS.get("sva-llm")
