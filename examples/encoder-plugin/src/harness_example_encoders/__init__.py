"""Example Encoder Harness plugin: two encoders that the harness builds through its own loaders.

``deit-s16-224.fb-in1k`` is a timm ViT with a hub tag; ``resnet50-224.tv-in1k`` a timm convnet
read at its last stage. Each names a tiny twin so smoke sweeps and contract tests can run it.
"""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="deit-s16-224.fb-in1k", group="other", supervision="labels", architecture="vit",
        resolution=224, loader="timm", source="deit_small_patch16_224", weights="fb_in1k",
        tiny={"embed_dim": 64, "depth": 3, "num_heads": 2}, tiny_resolution=128,
        description="DeiT-S/16 supervised on ImageNet-1k (example plugin)",
    ),
    EncoderSpec(
        id="resnet50-224.tv-in1k", group="other", supervision="labels",
        architecture="convnet", resolution=224, loader="timm", source="resnet50",
        weights="tv_in1k", feature_layer=-1,
        # timm's test ResNet is the same class at a tiny width; 128 px gives a 4x4 grid.
        tiny_source="test_resnet", tiny_resolution=128,
        description="ResNet-50 (torchvision ImageNet-1k weights), last stage (example plugin)",
    ),
]
