"""DFN-CLIP: CLIP models trained on data filtered by a data-filtering network (Apple)."""

from __future__ import annotations

from harness.encoder import EncoderSpec

_TINY_OPENCLIP_VIT = {"vision_cfg": {"layers": 3, "width": 64, "head_width": 32,
                                     "patch_size": 14}}

ENCODERS = [
    EncoderSpec(
        id="dfn-clip-vit-l14-224.dfn2b", group="clip", supervision="language",
        architecture="vit", resolution=224, loader="open_clip", source="ViT-L-14-quickgelu",
        weights="dfn2b", tiny=_TINY_OPENCLIP_VIT, tiny_resolution=112,
        description="DFN-CLIP ViT-L/14 (DFN-2B) at 224 px",
    ),
    EncoderSpec(
        id="dfn-clip-vit-h14-378.dfn5b", group="clip", supervision="language",
        architecture="vit", resolution=378, loader="open_clip", source="ViT-H-14-378-quickgelu",
        weights="dfn5b", tiny=_TINY_OPENCLIP_VIT, tiny_resolution=112,
        description="DFN-CLIP ViT-H/14 (DFN-5B) at 378 px",
    ),
]
