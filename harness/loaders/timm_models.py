"""The ``timm`` loader kind: ViTs and ConvNets built by ``timm.create_model``, spatial tokens read
through timm's one documented call, ``forward_intermediates``.

Weights: a local file from ``weights_path`` / ``$HARNESS_WEIGHTS_DIR`` (read as safetensors or
with ``weights_only=True``, then handed to timm's own checkpoint filter, which converts original
formats and interpolates position embeddings to the requested size, and loaded strictly), else
the hub tag ``source.weights``.
``spec.options`` go to ``timm.create_model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from harness.encoder import Encoder, EncoderSpec, plain
from harness.errors import HarnessError
from harness.loaders.registry import register_loader
from harness.loaders.weights import local_weights, missing_weights, read_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TimmEncoder(Encoder):
    def __init__(self, spec: EncoderSpec, model: torch.nn.Module, image_size: int) -> None:
        super().__init__()
        self.model = model
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        self._finish(spec, image_size, tuple(cfg.get("mean", IMAGENET_MEAN)),
                     tuple(cfg.get("std", IMAGENET_STD)))

    def spatial(self, pixels: torch.Tensor) -> torch.Tensor:
        # NCHW output from a ViT is the patch grid with prefix/register tokens removed.
        return self.model.forward_intermediates(
            pixels, indices=[self.spec.feature_layer], output_fmt="NCHW",
            intermediates_only=True,
        )[0]


def create_timm(spec: EncoderSpec, tiny: bool, *, size: int, pretrained: bool = False,
                state_dict: dict[str, torch.Tensor] | None = None, num_classes: int = 0,
                extra: dict[str, Any] | None = None,
                looked: list[str] | None = None) -> torch.nn.Module:
    """``timm.create_model`` for the spec (or its twin), with a one-line error on failure."""
    # deferred: timm takes seconds to import; only timm encoders need it
    import timm

    kwargs: dict[str, Any] = {"num_classes": num_classes, **(extra or {})}
    if spec.architecture == "vit":
        kwargs["img_size"] = size
    if tiny:
        kwargs.update(plain(spec.tiny))
    base = spec.tiny_source if tiny and spec.tiny_source else spec.source
    # The tagged name even for the twin, so its transform uses the real weights' mean and std.
    tagged = spec.loader == "timm" and spec.weights and base == spec.source
    name = f"{base}.{spec.weights}" if tagged else base
    if state_dict is not None:
        # timm loads non-strictly whenever the head differs from the weights' own, which would
        # hide a wrong file; so the head goes here and the load is strict (num_classes match).
        heads = getattr(timm.models.get_pretrained_cfg(name), "classifier", None) or ()
        heads = (heads,) if isinstance(heads, str) else tuple(heads)
        if not num_classes:
            state_dict = {k: v for k, v in state_dict.items()
                          if not k.startswith(tuple(f"{h}." for h in heads))}
        kwargs["pretrained_cfg_overlay"] = {"state_dict": state_dict,
                                            "num_classes": num_classes}
    try:
        return timm.create_model(name, pretrained=pretrained or state_dict is not None,
                                 **kwargs)
    except Exception as exc:  # timm raises many kinds; the user needs one line
        if state_dict is not None:
            raise HarnessError(f"weights for encoder {spec.id!r} do not fit timm model"
                               f" {name!r}: {' '.join(str(exc).split())[:300]}") from exc
        if pretrained:
            remote = f"the Hugging Face hub (timm model {name!r})"
            raise missing_weights(spec, looked or [], remote, exc) from exc
        raise HarnessError(f"cannot build encoder {spec.id!r} from timm model {name!r}:"
                           f" {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                           ) from exc


@register_loader("timm")
def build_timm(spec: EncoderSpec, tiny: bool, *, weights_path: Path | None = None,
               pretrained: bool = True) -> Encoder:
    size = spec.tiny_resolution if tiny else spec.resolution
    options = plain(spec.options)
    if tiny:
        model = create_timm(spec, True, size=size, extra=options)
    else:
        local, looked = local_weights(spec, weights_path) if pretrained else (None, [])
        if local is not None:
            state = read_state_dict(local, key=options.pop("state_dict_key", None))
            model = create_timm(spec, False, size=size, state_dict=state, extra=options)
        elif spec.weights is None or not pretrained:
            model = create_timm(spec, False, size=size, extra=options)
        else:
            model = create_timm(spec, False, size=size, pretrained=True, extra=options,
                                looked=looked)
    return TimmEncoder(spec, model.eval(), size)
