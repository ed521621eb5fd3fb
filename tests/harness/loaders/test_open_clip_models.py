"""The open_clip loader kind: a checkpoint file and a ``local-dir`` folder load back."""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import pytest
import torch

from harness.encoder import EncoderSpec
from harness.errors import HarnessError
from harness.loaders import build_encoder
from harness.loaders.weights import save_state_dict

CONFIG = {"embed_dim": 32,
          "vision_cfg": {"image_size": 56, "layers": 2, "width": 64, "head_width": 32,
                         "patch_size": 14},
          "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2,
                       "layers": 1}}
SPEC = EncoderSpec(id="toy-clip.saved", group="clip", supervision="language",
                   architecture="vit", resolution=56, loader="open_clip",
                   source="ViT-B-16", weights="openai", options=CONFIG)


def saved_model() -> torch.nn.Module:
    torch.manual_seed(2)
    return open_clip.create_model("ViT-B-16", pretrained=None, **CONFIG).eval()


def reference_tokens(model: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    out = model.visual.forward_intermediates(pixels, indices=[-2], intermediates_only=True,
                                             output_fmt="NLC")
    return out["image_intermediates"][0]


def test_checkpoint_file_loads_back(weights_dir: Path) -> None:
    model = saved_model()
    save_state_dict(model.state_dict(), weights_dir / "toy-clip.saved.safetensors")
    encoder = build_encoder(SPEC, tiny=False)
    pixels = torch.randn(2, 3, 56, 56)
    assert encoder.grid == (4, 4) and encoder.embed_dim == 64
    torch.testing.assert_close(encoder(pixels), reference_tokens(model, pixels))
    assert encoder.mean == pytest.approx(open_clip.OPENAI_DATASET_MEAN)


def test_local_dir_folder_loads_back(weights_dir: Path) -> None:
    model = saved_model()
    folder = weights_dir / "toy-clip.saved"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": CONFIG}))
    save_state_dict(model.state_dict(), folder / "open_clip_model.safetensors")
    encoder = build_encoder(SPEC, tiny=False)
    pixels = torch.randn(1, 3, 56, 56)
    torch.testing.assert_close(encoder(pixels), reference_tokens(model, pixels))


def test_missing_tag_offline_is_one_line(weights_dir: Path) -> None:
    with pytest.raises(HarnessError) as info:
        build_encoder(SPEC, tiny=False)
    text = str(info.value)
    assert "\n" not in text and "open_clip 'ViT-B-16' tag 'openai'" in text
    assert str(weights_dir / "toy-clip.saved") in text
