"""Reading weights files safely and the one-line error for weights that cannot be had."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch

from harness.encoder import EncoderSpec
from harness.errors import HarnessError
from harness.loaders.weights import (
    local_weights,
    missing_weights,
    read_state_dict,
    save_state_dict,
)

SPEC = EncoderSpec(id="toy-vit.saved", group="ssl", supervision="self", architecture="vit",
                   resolution=64, loader="timm", source="test_vit")


def test_safetensors_and_pth_round_trip(tmp_path: Path) -> None:
    state = {"a": torch.randn(3, 4), "b.c": torch.arange(5)}
    st = read_state_dict(save_state_dict(state, tmp_path / "w.safetensors"))
    torch.save({"state_dict": state, "epoch": 7}, tmp_path / "w.pth")
    pth = read_state_dict(tmp_path / "w.pth", key="state_dict")
    for loaded in (st, pth):
        assert set(loaded) == set(state)
        assert all(torch.equal(loaded[k], state[k]) for k in state)


class Payload:
    """Stands for whatever an untrusted pickle could carry."""


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    torch.save({"weight": torch.zeros(1), "payload": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(HarnessError, match=r"cannot read weights file .*evil\.pth safely"):
        read_state_dict(tmp_path / "evil.pth")


def test_missing_nested_key_names_what_is_there(tmp_path: Path) -> None:
    torch.save(collections.OrderedDict(model=torch.zeros(1)), tmp_path / "c.pth")
    with pytest.raises(HarnessError, match="no 'state_dict' entry; it has: model"):
        read_state_dict(tmp_path / "c.pth", key="state_dict")


def test_local_weights_prefers_the_folder_then_safetensors(weights_dir: Path) -> None:
    assert local_weights(SPEC)[0] is None
    (weights_dir / "toy-vit.saved.pth").write_bytes(b"")
    assert local_weights(SPEC)[0] == weights_dir / "toy-vit.saved.pth"
    (weights_dir / "toy-vit.saved.safetensors").write_bytes(b"")
    assert local_weights(SPEC)[0] == weights_dir / "toy-vit.saved.safetensors"
    (weights_dir / "toy-vit.saved").mkdir()
    assert local_weights(SPEC)[0] == weights_dir / "toy-vit.saved"


def test_an_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"weights for encoder 'toy-vit.saved' not found at"):
        local_weights(SPEC, tmp_path / "nope.safetensors")


def test_missing_weights_message_is_one_line_and_says_how(weights_dir: Path) -> None:
    _, looked = local_weights(SPEC)
    error = missing_weights(SPEC, looked, "the hub", OSError("no network\nsecond line"))
    text = str(error)
    assert "\n" not in text
    assert str(weights_dir / "toy-vit.saved") in text
    assert "HF_HUB_OFFLINE=1" in text and "OSError: no network" in text
    assert "$HARNESS_WEIGHTS_DIR/toy-vit.saved.safetensors" in text
