"""Self-supervised ViTs trained by self-distillation (DINOv2)."""

from __future__ import annotations

from harness.encoder import EncoderSpec

_TINY_VIT_14 = {"embed_dim": 64, "depth": 3, "num_heads": 2}

ENCODERS = [
    EncoderSpec(
        id="dinov2-vit-l14-518.lvd142m",
        group="ssl",
        supervision="self",
        architecture="vit",
        resolution=518,
        loader="timm",
        source="vit_large_patch14_dinov2",
        weights="lvd142m",
        tiny=_TINY_VIT_14,
        tiny_resolution=112,
        description="DINOv2 ViT-L/14 at 518 px",
    ),
]
