"""ConvNeXt towers of OpenCLIP: language-supervised convnets that stay strong at high resolution.

Cambrian runs them above their training size (320 or 256 px) at 512 and 1024 px; a convnet has
no position embedding to interpolate, so only the input size changes. The weights are
OpenCLIP's image towers as timm hosts them (``convnext_large_mlp.clip_laion2b_ft_soup_320`` is
OpenCLIP's ``convnext_large_d_320`` / ``laion2b_s29b_b131k_ft_soup``), read through timm so the
twin can shrink widths and depths, which OpenCLIP's timm-tower config cannot.
"""

from __future__ import annotations

from harness.encoder import EncoderSpec

# Stride-32 convnets need more pixels than a ViT/14 for the same grid: 256 px gives 8x8 tokens,
# so the twin is narrow (first stage 8 channels) to cost about what a ViT twin costs.
_TINY_CONVNEXT = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)}


def _convnext(id: str, source: str, weights: str, resolution: int, what: str) -> EncoderSpec:
    return EncoderSpec(
        id=id, group="convnext", supervision="language", architecture="convnet",
        resolution=resolution, loader="timm", source=source, weights=weights,
        feature_layer=-1, tiny=_TINY_CONVNEXT, tiny_resolution=256, version="2",
        description=f"OpenCLIP {what} (LAION-2B) at {resolution} px, last stage",
    )


ENCODERS = [
    _convnext("openclip-convnext-l-512.laion2b", "convnext_large_mlp",
              "clip_laion2b_ft_soup_320", 512, "ConvNeXt-L"),
    _convnext("openclip-convnext-l-1024.laion2b", "convnext_large_mlp",
              "clip_laion2b_ft_soup_320", 1024, "ConvNeXt-L"),
    _convnext("openclip-convnext-xxl-1024.laion2b", "convnext_xxlarge",
              "clip_laion2b_soup", 1024, "ConvNeXt-XXL"),
]
