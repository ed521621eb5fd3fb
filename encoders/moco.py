"""MoCo v3: self-supervised ViTs trained by momentum contrast on ImageNet-1k.

The weights are Meta's release files (no library knows them by name), read by the ``file``
loader into timm's ViT: the base encoder's tensors, without the projection head.
"""

from __future__ import annotations

from harness.encoder import EncoderSpec

_FROM_CHECKPOINT = {"state_dict_key": "state_dict", "prefix": "module.base_encoder.",
                    "ignore": ("head.",)}
_TINY_VIT = {"embed_dim": 64, "depth": 3, "num_heads": 2}
_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}

ENCODERS = [
    EncoderSpec(
        id="mocov3-vit-b16-224.in1k", group="ssl", supervision="self", architecture="vit",
        resolution=224, loader="file", source="vit_base_patch16_224",
        weights="https://dl.fbaipublicfiles.com/moco-v3/vit-b-300ep/vit-b-300ep.pth.tar",
        options=_FROM_CHECKPOINT, tiny=_TINY_VIT, tiny_resolution=128, **_IMAGENET,
        description="MoCo v3 ViT-B/16 (300 epochs, ImageNet-1k)",
    ),
    EncoderSpec(
        # Meta released no ViT-L checkpoint: the user supplies one at
        # $HARNESS_WEIGHTS_DIR/mocov3-vit-l16-224.in1k.pth (same layout as the ViT-B file).
        id="mocov3-vit-l16-224.in1k", group="ssl", supervision="self", architecture="vit",
        resolution=224, loader="file", source="vit_large_patch16_224", weights=None,
        options=_FROM_CHECKPOINT, tiny=_TINY_VIT, tiny_resolution=128, **_IMAGENET,
        description="MoCo v3 ViT-L/16 (ImageNet-1k; checkpoint supplied by the user)",
    ),
]
