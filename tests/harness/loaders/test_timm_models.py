"""The timm loader kind: weights saved to a folder come back through the real code path."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from harness.encoder import EncoderSpec
from harness.errors import HarnessError
from harness.loaders import build_encoder
from harness.loaders.weights import save_state_dict

SPEC = EncoderSpec(id="toy-vit.saved", group="ssl", supervision="self", architecture="vit",
                   resolution=64, loader="timm", source="test_vit", weights="r160_in1k",
                   feature_layer=-2)


def saved_model(path: Path, size: int = 64, num_classes: int = 0) -> torch.nn.Module:
    torch.manual_seed(1)
    model = timm.create_model("test_vit", num_classes=num_classes, img_size=size).eval()
    if path.suffix == ".safetensors":
        save_state_dict(model.state_dict(), path)
    else:
        torch.save(model.state_dict(), path)
    return model


def reference_tokens(model: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    return model.forward_intermediates(pixels, indices=[-2], output_fmt="NLC",
                                       intermediates_only=True)[0]


def test_saved_weights_load_back(weights_dir: Path) -> None:
    model = saved_model(weights_dir / "toy-vit.saved.safetensors")
    encoder = build_encoder(SPEC, tiny=False)
    pixels = torch.randn(2, 3, 64, 64)
    assert encoder.grid == (4, 4)
    torch.testing.assert_close(encoder(pixels), reference_tokens(model, pixels))


def test_weights_path_override_and_resolution_interpolation(tmp_path: Path) -> None:
    # Any name, a .pth too, with the classifier the weights were trained with.
    saved_model(tmp_path / "mine.pth", num_classes=10)
    encoder = build_encoder(SPEC, tiny=False, weights_path=tmp_path / "mine.pth",
                            resolution=96)
    # Position embeddings were interpolated from a 4x4 to a 6x6 grid on load.
    assert encoder.image_size == 96 and encoder.grid == (6, 6)
    assert encoder.spec.resolution == 96
    assert torch.isfinite(encoder(torch.randn(1, 3, 96, 96))).all()


def test_missing_hub_weights_offline_is_one_line(weights_dir: Path) -> None:
    with pytest.raises(HarnessError) as info:
        build_encoder(SPEC, tiny=False)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("no weights for encoder 'toy-vit.saved': looked in")
    assert "test_vit.r160_in1k" in text and "HF_HUB_OFFLINE=1" in text


def test_a_file_for_another_architecture_is_an_error(weights_dir: Path) -> None:
    save_state_dict({"nonsense": torch.zeros(2)}, weights_dir / "toy-vit.saved.safetensors")
    with pytest.raises(HarnessError, match=r"weights for encoder 'toy-vit.saved' do not fit"
                                           r" timm model 'test_vit.r160_in1k': .*Missing key"):
        build_encoder(SPEC, tiny=False)
