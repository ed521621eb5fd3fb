"""MiDaS 3.0: DPT with a ViT-L/16 backbone trained for monocular depth."""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="midas-dpt-vit-l16-384.midas3", group="other", supervision="other",
        architecture="vit", resolution=384, loader="transformers", source="Intel/dpt-large",
        weights="midas3", options={"model_class": "DPTModel", "model_type": "dpt"},
        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
        tiny={"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
              "intermediate_size": 128, "patch_size": 16, "backbone_out_indices": [0, 1, 2, 2]},
        tiny_resolution=128,
        description="MiDaS 3.0 (DPT-Large) ViT-L/16 backbone at 384 px",
    ),
]
