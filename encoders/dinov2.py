"""DINOv2: self-supervised ViTs trained by self-distillation on LVD-142M."""

from __future__ import annotations

from harness.encoder import EncoderSpec

_TINY_VIT = {"embed_dim": 64, "depth": 3, "num_heads": 2}
_TINY_HF = {"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
            "intermediate_size": 128, "patch_size": 14}

ENCODERS = [
    EncoderSpec(
        id="dinov2-vit-l14-336.lvd142m", group="ssl", supervision="self", architecture="vit",
        resolution=336, loader="transformers", source="facebook/dinov2-large",
        weights="lvd142m", options={"model_class": "Dinov2Model", "model_type": "dinov2"},
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        tiny=_TINY_HF, tiny_resolution=112,
        description="DINOv2 ViT-L/14 at 336 px (position embeddings interpolated from 518)",
    ),
    EncoderSpec(
        id="dinov2-vit-l14-518.lvd142m", group="ssl", supervision="self", architecture="vit",
        resolution=518, loader="timm", source="vit_large_patch14_dinov2", weights="lvd142m",
        tiny=_TINY_VIT, tiny_resolution=112,
        description="DINOv2 ViT-L/14 at 518 px",
    ),
]
