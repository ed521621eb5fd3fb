"""Language-supervised ViTs trained with a contrastive image-text objective (OpenAI CLIP)."""

from __future__ import annotations

from harness.encoder import EncoderSpec

# The twin keeps CLIP's ViT code path (pre-norm, quick-GELU-free timm variant, patch 14) at a
# width and depth that run on a CPU in milliseconds.
_TINY_VIT_14 = {"embed_dim": 64, "depth": 3, "num_heads": 2}

ENCODERS = [
    EncoderSpec(
        id="clip-vit-l14-336.openai",
        group="clip",
        supervision="language",
        architecture="vit",
        resolution=336,
        loader="timm",
        source="vit_large_patch14_clip_336",
        weights="openai",
        tiny=_TINY_VIT_14,
        tiny_resolution=112,
        description="OpenAI CLIP ViT-L/14 at 336 px (LLaVA-1.5's encoder)",
    ),
]
