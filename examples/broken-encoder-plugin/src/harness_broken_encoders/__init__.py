"""A deliberately broken encoder plugin for the tests (see pyproject.toml)."""

from __future__ import annotations

from harness.encoder import EncoderSpec

NOT_SPECS = [{"id": "dict-instead-of-spec.x"}]

# Its entry point sorts before the built-in "clip" one: the built-in must still win.
DUPLICATE = [
    EncoderSpec(id="clip-vit-l14-336.openai", group="clip", supervision="language",
                architecture="vit", resolution=336, loader="timm",
                source="vit_base_patch16_224", description="a plugin shadowing a built-in"),
]

BAD_VALUE_ID = "resnet18-224.tv-in1k"


def bad_architecture() -> list[EncoderSpec]:
    """A callable entry point, so the spec that refuses to be built fails this entry point
    alone, not the whole module: "resnet" is not one of the architectures (vit, convnet)."""
    return [EncoderSpec(id=BAD_VALUE_ID, group="other", supervision="labels",
                        architecture="resnet", resolution=224, loader="timm",
                        source="resnet18")]


FINE = [
    EncoderSpec(id="fine-vit-s16-224.none", group="other", supervision="other",
                architecture="vit", resolution=224, loader="timm",
                source="vit_small_patch16_224",
                tiny={"embed_dim": 64, "depth": 2, "num_heads": 2}, tiny_resolution=128),
]
