"""SAM: the Segment Anything image encoder, a windowed ViT trained on SA-1B masks."""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="sam-vit-h16-1024.sa1b", group="other", supervision="other", architecture="vit",
        resolution=1024, loader="timm", source="samvit_huge_patch16", weights="sa1b",
        # The twin keeps SAM's windowed attention with one global block and relative positions.
        tiny={"embed_dim": 64, "depth": 3, "num_heads": 2, "global_attn_indexes": (2,),
              "window_size": 4, "neck_chans": 32},
        tiny_resolution=128,
        description="SAM ViT-H/16 image encoder at 1024 px (block features, before the neck)",
    ),
]
