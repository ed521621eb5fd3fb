"""The transformers loader kind: a ``save_pretrained`` folder loads back through the real path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import Dinov2Config, Dinov2Model

from harness.encoder import EncoderSpec
from harness.errors import HarnessError
from harness.loaders import build_encoder

SPEC = EncoderSpec(id="toy-dinov2.saved", group="ssl", supervision="self", architecture="vit",
                   resolution=56, loader="transformers", source="facebook/dinov2-small",
                   weights="lvd142m", options={"model_class": "Dinov2Model",
                                               "model_type": "dinov2"})


def saved_model(folder: Path) -> torch.nn.Module:
    torch.manual_seed(3)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                          intermediate_size=64, patch_size=14, image_size=56,
                          num_register_tokens=0)
    model = Dinov2Model(config).eval()
    model.save_pretrained(folder)
    return model


def test_saved_folder_loads_back(weights_dir: Path) -> None:
    model = saved_model(weights_dir / "toy-dinov2.saved")
    assert (weights_dir / "toy-dinov2.saved" / "model.safetensors").is_file()
    encoder = build_encoder(SPEC, tiny=False)
    pixels = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]
    assert encoder.grid == (4, 4) and encoder.embed_dim == 32
    # The CLS token is dropped; the patch tokens are the same numbers.
    torch.testing.assert_close(encoder(pixels), hidden[:, 1:])


def test_other_resolution_interpolates_position_embeddings(weights_dir: Path) -> None:
    saved_model(weights_dir / "toy-dinov2.saved")
    encoder = build_encoder(SPEC, tiny=False, resolution=84)
    assert encoder.grid == (6, 6)
    assert torch.isfinite(encoder(torch.randn(1, 3, 84, 84))).all()


def test_missing_folder_offline_is_one_line(weights_dir: Path) -> None:
    with pytest.raises(HarnessError) as info:
        build_encoder(SPEC, tiny=False)
    text = str(info.value)
    assert "\n" not in text and "'facebook/dinov2-small'" in text
    assert "$HARNESS_WEIGHTS_DIR/toy-dinov2.saved.safetensors" in text


@pytest.mark.parametrize("feature_layer", [-2, -3, 1])
def test_blocks_after_the_feature_layer_never_run_and_features_are_unchanged(
        feature_layer: int) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    from harness.loaders.hf_models import HFEncoder

    torch.manual_seed(0)
    tower = CLIPVisionModel(CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
        image_size=56, patch_size=14)).eval()
    spec = EncoderSpec(id="toy-clip.random", group="clip", supervision="language",
                       architecture="vit", resolution=56, loader="transformers", source="toy",
                       feature_layer=feature_layer)
    pixels = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        full = tower(pixel_values=pixels, output_hidden_states=True).hidden_states
    encoder = HFEncoder(spec, tower, 56)
    ran = []
    for i, block in enumerate(tower.encoder.layers):
        block.register_forward_pre_hook(lambda *_, i=i: ran.append(i))
    with torch.no_grad():
        tokens = encoder(pixels)
    torch.testing.assert_close(tokens, full[feature_layer][:, 1:])
    assert ran == list(range(feature_layer % 5))  # only the blocks the features need


def test_the_last_layer_is_read_whole() -> None:
    model = saved_model_in_memory()
    spec = EncoderSpec(id="toy-dinov2.last", group="ssl", supervision="self",
                       architecture="vit", resolution=56, loader="transformers", source="toy",
                       feature_layer=-1)
    from harness.loaders.hf_models import HFEncoder

    encoder = HFEncoder(spec, model, 56)
    assert encoder._stop_hook is None
    pixels = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]
    torch.testing.assert_close(encoder(pixels), hidden[:, 1:])


def saved_model_in_memory() -> torch.nn.Module:
    torch.manual_seed(3)
    return Dinov2Model(Dinov2Config(hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                                    intermediate_size=64, patch_size=14, image_size=56,
                                    num_register_tokens=0)).eval()
