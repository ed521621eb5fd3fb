"""SigLIP: language-supervised ViTs trained with a pairwise sigmoid loss (WebLI); no CLS token."""

from __future__ import annotations

from harness.encoder import EncoderSpec

_TINY_VIT = {"embed_dim": 64, "depth": 3, "num_heads": 2}

ENCODERS = [
    EncoderSpec(
        id="siglip-vit-l16-384.webli", group="clip", supervision="language",
        architecture="vit", resolution=384, loader="timm",
        source="vit_large_patch16_siglip_384", weights="webli",
        tiny=_TINY_VIT, tiny_resolution=128,
        description="SigLIP ViT-L/16 at 384 px",
    ),
    EncoderSpec(
        id="siglip-vit-so400m14-384.webli", group="clip", supervision="language",
        architecture="vit", resolution=384, loader="timm",
        source="vit_so400m_patch14_siglip_384", weights="webli",
        tiny=_TINY_VIT, tiny_resolution=112,
        description="SigLIP shape-optimised ViT-SO400M/14 at 384 px (Cambrian-1's main encoder)",
    ),
]
