"""MAE: a self-supervised ViT trained by reconstructing masked patches (ImageNet-1k)."""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="mae-vit-l16-224.in1k", group="ssl", supervision="self", architecture="vit",
        resolution=224, loader="timm", source="vit_large_patch16_224", weights="mae",
        tiny={"embed_dim": 64, "depth": 3, "num_heads": 2}, tiny_resolution=128,
        description="MAE ViT-L/16 at 224 px (pre-trained encoder, no fine-tuning)",
    ),
]
