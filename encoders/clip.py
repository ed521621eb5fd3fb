"""OpenAI CLIP: language-supervised ViTs trained contrastively on 400M image-text pairs."""

from __future__ import annotations

from harness.encoder import EncoderSpec

# Twins keep each loader's ViT code path (patch 14) at a width and depth that run on a CPU in
# milliseconds; 112 px gives an 8x8 grid.
_TINY_TIMM_VIT = {"embed_dim": 64, "depth": 3, "num_heads": 2}
_TINY_OPENCLIP_VIT = {"vision_cfg": {"layers": 3, "width": 64, "head_width": 32,
                                     "patch_size": 14}}

ENCODERS = [
    EncoderSpec(
        id="clip-vit-l14-224.openai", group="clip", supervision="language", architecture="vit",
        resolution=224, loader="open_clip", source="ViT-L-14-quickgelu", weights="openai",
        tiny=_TINY_OPENCLIP_VIT, tiny_resolution=112,
        description="OpenAI CLIP ViT-L/14 at 224 px",
    ),
    EncoderSpec(
        id="clip-vit-l14-336.openai", group="clip", supervision="language", architecture="vit",
        resolution=336, loader="timm", source="vit_large_patch14_clip_336", weights="openai",
        tiny=_TINY_TIMM_VIT, tiny_resolution=112,
        description="OpenAI CLIP ViT-L/14 at 336 px (LLaVA-1.5's encoder)",
    ),
]
