"""I-JEPA: a self-supervised ViT that predicts representations of masked regions."""

from __future__ import annotations

from harness.encoder import EncoderSpec

ENCODERS = [
    EncoderSpec(
        id="ijepa-vit-h14-224.in1k", group="ssl", supervision="self", architecture="vit",
        resolution=224, loader="transformers", source="facebook/ijepa_vith14_1k",
        weights="in1k", options={"model_class": "IJepaModel", "model_type": "ijepa"},
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        tiny={"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2,
              "intermediate_size": 128, "patch_size": 14},
        tiny_resolution=112,
        description="I-JEPA ViT-H/14 at 224 px (ImageNet-1k)",
    ),
]
