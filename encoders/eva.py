"""EVA-CLIP-02: CLIP ViTs initialised from masked image modelling (EVA-02), then trained
contrastively."""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="eva-clip-02-vit-l14-336.merged2b", group="clip", supervision="language",
        architecture="vit", resolution=336, loader="timm",
        source="eva02_large_patch14_clip_336", weights="merged2b",
        # The twin keeps EVA-02's rotary position embeddings and SwiGLU blocks.
        tiny={"embed_dim": 64, "depth": 3, "num_heads": 2}, tiny_resolution=112,
        description="EVA-CLIP-02 ViT-L/14 (Merged-2B) at 336 px",
    ),
]
