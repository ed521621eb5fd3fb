"""Supervised ViT: classification on ImageNet-21k labels (the strongly supervised baseline)."""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="vit-l16-224.in21k", group="other", supervision="labels", architecture="vit",
        resolution=224, loader="timm", source="vit_large_patch16_224", weights="augreg_in21k",
        tiny={"embed_dim": 64, "depth": 3, "num_heads": 2}, tiny_resolution=128,
        description="ViT-L/16 supervised on ImageNet-21k at 224 px",
    ),
]
