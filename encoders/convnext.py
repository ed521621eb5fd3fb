"""ConvNeXt towers of OpenCLIP: language-supervised convnets that stay strong at high resolution."""

from __future__ import annotations

from harness.encoder import EncoderSpec

# Stride 32 convnets need more pixels than ViT/14 for the same grid: 256 px gives 8x8 tokens.
_TINY_CONVNEXT = {"depths": (1, 1, 1, 1), "dims": (16, 32, 64, 128)}

ENCODERS = [
    EncoderSpec(
        id="openclip-convnext-l-512.laion2b",
        group="convnext",
        supervision="language",
        architecture="convnet",
        resolution=512,
        loader="timm",
        source="convnext_large_mlp",
        weights="clip_laion2b_ft_320",
        feature_layer=-1,
        tiny=_TINY_CONVNEXT,
        tiny_resolution=256,
        description="OpenCLIP ConvNeXt-L (LAION-2B) run at 512 px, last stage",
    ),
]
