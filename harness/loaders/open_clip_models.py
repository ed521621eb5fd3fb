"""The ``open_clip`` loader kind: the image tower of an OpenCLIP model (its own ViT, or a timm
trunk such as ConvNeXt), spatial tokens through the tower's ``forward_intermediates``.

``source`` is an OpenCLIP model name (``ViT-L-14-quickgelu``), ``weights`` its pretrained tag
(``dfn2b``). Weights: a local ``local-dir`` folder (with ``open_clip_config.json``) or a
checkpoint file from ``weights_path`` / ``$HARNESS_WEIGHTS_DIR``, else the tag from the hub.
Resolution is set at build (``force_image_size``); OpenCLIP interpolates position embeddings
when it loads weights for another size. ``spec.tiny`` overrides the model config (normally
``vision_cfg``); the twin gets a tiny text tower unless ``tiny`` gives one. ``spec.options`` go
to ``open_clip.create_model``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from harness.encoder import Encoder, EncoderSpec, plain
from harness.errors import HarnessError
from harness.loaders.registry import register_loader
from harness.loaders.weights import local_weights, missing_weights, one_line, weights_file

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# The twin's text tower is never used; it only has to exist for OpenCLIP to build the model.
TINY_TEXT = {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1}


class OpenClipEncoder(Encoder):
    def __init__(self, spec: EncoderSpec, visual: torch.nn.Module, image_size: int) -> None:
        super().__init__()
        self.visual = visual
        cfg = getattr(visual, "preprocess_cfg", {}) or {}
        mean = tuple(cfg.get("mean") or getattr(visual, "image_mean", None) or CLIP_MEAN)
        std = tuple(cfg.get("std") or getattr(visual, "image_std", None) or CLIP_STD)
        self._finish(spec, image_size, mean, std)

    def spatial(self, pixels: torch.Tensor) -> torch.Tensor:
        out = self.visual.forward_intermediates(
            pixels, indices=[self.spec.feature_layer], intermediates_only=True,
            output_fmt="NCHW",
        )
        return out["image_intermediates"][0]


@register_loader("open_clip")
def build_open_clip(spec: EncoderSpec, tiny: bool, *,
                    weights_path: Path | None = None,
                    pretrained: bool = True) -> Encoder:
    # deferred: open_clip takes seconds to import; only open_clip encoders need it
    import open_clip

    size = spec.tiny_resolution if tiny else spec.resolution
    kwargs: dict[str, Any] = {"force_image_size": size, **plain(spec.options)}
    name, checkpoint, local, looked = spec.source, None, None, []
    if tiny or not pretrained:
        # Random weights: on the meta device (encoders show) OpenCLIP must stay there, where
        # its own .to(device) would try to copy data that meta tensors do not have.
        kwargs["device"] = torch.empty(0).device
    if tiny:
        name = spec.tiny_source or spec.source
        kwargs.update({"embed_dim": 32, "text_cfg": dict(TINY_TEXT)})
        kwargs.update(plain(spec.tiny))
        if "vision_cfg" in kwargs:  # a replaced vision config must still say the size
            kwargs["vision_cfg"]["image_size"] = size
    elif pretrained:
        local, looked = local_weights(spec, weights_path)
        if local is not None and local.is_dir() and (local / "open_clip_config.json").is_file():
            name = f"local-dir:{local}"
        elif local is not None:
            checkpoint = str(weights_file(local))
        else:
            checkpoint = spec.weights
        kwargs["require_pretrained"] = checkpoint is not None or local is not None
    try:
        # A twin is random on purpose: OpenCLIP's "initialized randomly" warning is noise there.
        logging.disable(logging.WARNING if tiny or not pretrained else logging.NOTSET)
        model = open_clip.create_model(name, pretrained=checkpoint, **kwargs)
    except Exception as exc:  # OpenCLIP raises RuntimeError/ValueError/OSError alike
        if local is None and checkpoint is not None:
            remote = f"the Hugging Face hub (open_clip {spec.source!r} tag {spec.weights!r})"
            raise missing_weights(spec, looked, remote, exc) from exc
        where = f" with weights from {local}" if local is not None else ""
        raise HarnessError(f"cannot build encoder {spec.id!r} from open_clip model"
                           f" {spec.source!r}{where}: {one_line(exc)}") from exc
    finally:
        logging.disable(logging.NOTSET)
    visual = model.visual
    del model  # the text tower is not needed
    return OpenClipEncoder(spec, visual.eval(), size)
