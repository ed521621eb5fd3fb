"""The one table that links a paper's encoder names to this project's registry ids.

Ids keep architecture and weights apart (``<family>-<arch>-<resolution>.<weights>``), in the
style of the built-in ``clip-vit-l14-336.openai``; every id here is a registered encoder (a
test checks it). A name missing here stays unlinked: its published numbers still show, just not
beside a measured run. An ensemble (``SigLIP+DINOv2``) links to the combination id a sweep
gives the same encoders in the same order (``a+b``) when every member is known.
"""

from __future__ import annotations

from harness.combination import COMBINE, combined_id, member_ids

ENCODER_IDS: dict[str, str] = {
    # Cambrian-1, Figure 4 (language-supervised)
    "OpenAI CLIP ViT-L/14@224": "clip-vit-l14-224.openai",
    "OpenAI CLIP ViT-L/14@336": "clip-vit-l14-336.openai",
    "DFN-CLIP ViT-L/14@224": "dfn-clip-vit-l14-224.dfn2b",
    "DFN-CLIP ViT-H/14@378": "dfn-clip-vit-h14-378.dfn5b",
    "EVA-CLIP-02 ViT-L/14@336": "eva-clip-02-vit-l14-336.merged2b",
    "SigLIP ViT-L/16@384": "siglip-vit-l16-384.webli",
    "SigLIP SO400M/14@384": "siglip-vit-so400m14-384.webli",
    "OpenCLIP ConvNeXt-L@512": "openclip-convnext-l-512.laion2b",
    "OpenCLIP ConvNeXt-L@1024": "openclip-convnext-l-1024.laion2b",
    "OpenCLIP ConvNeXt-XXL@1024": "openclip-convnext-xxl-1024.laion2b",
    # self-supervised
    "DINOv2 ViT-L/14@336": "dinov2-vit-l14-336.lvd142m",
    "DINOv2 ViT-L/14@518": "dinov2-vit-l14-518.lvd142m",
    "MoCo v3 ViT-B/16@224": "mocov3-vit-b16-224.in1k",
    "MoCo v3 ViT-L/16@224": "mocov3-vit-l16-224.in1k",
    "MAE ViT-L/16@224": "mae-vit-l16-224.in1k",
    "I-JEPA ViT-H/16@224": "ijepa-vit-h14-224.in1k",
    # other supervision
    "SAM ViT-H/16@1024": "sam-vit-h16-1024.sa1b",
    "MiDaS 3.0 ViT-L/16@384": "midas-dpt-vit-l16-384.midas3",
    "SD2.1/16@512": "sd21-unet-512.laion5b",
    "SupViT ViT-L/16@224": "vit-l16-224.in21k",
}

ENSEMBLE_MEMBER_IDS: dict[str, str] = {
    # Cambrian-1, Table 2 names ensemble members by family only; these are the encoders its
    # text uses for the ensembles (the four of the final Cambrian-1 model).
    "SigLIP": "siglip-vit-so400m14-384.webli",
    "DINOv2": "dinov2-vit-l14-518.lvd142m",
    "ConvNext": "openclip-convnext-xxl-1024.laion2b",
    "CLIP": "clip-vit-l14-336.openai",
}


def encoder_id_for(subject: str) -> str | None:
    """The registry id a published encoder name corresponds to, if the table knows it."""
    return ENCODER_IDS.get(subject.strip())


def ensemble_id_for(subject: str) -> str | None:
    """The combination id of a published ensemble (``SigLIP+DINOv2``), in the paper's order,
    if every member is known (by family or by full name); else None."""
    members = [m.strip() for m in subject.split(COMBINE)]
    ids = [ENSEMBLE_MEMBER_IDS.get(m) or ENCODER_IDS.get(m) for m in members]
    if len(ids) < 2 or None in ids or len(set(ids)) != len(ids):
        return None
    return combined_id(ids)  # type: ignore[arg-type]


def display_name(encoder_id: str) -> str:
    """How people name an encoder (the paper's name for a registry id), else its id; a
    combination's members joined with ``' + '``."""
    return " + ".join(_DISPLAY.get(part, part) for part in member_ids(encoder_id))


_DISPLAY: dict[str, str] = {v: k for k, v in ENCODER_IDS.items()}
