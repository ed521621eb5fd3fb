"""The ``timm`` loader kind: ViTs and ConvNets built by ``timm.create_model``, spatial tokens read
through timm's one documented call, ``forward_intermediates``."""

from __future__ import annotations

import torch

from harness.encoder import Encoder, EncoderSpec, register_loader
from harness.errors import HarnessError


class TimmEncoder(Encoder):
    def __init__(self, spec: EncoderSpec, model: torch.nn.Module, image_size: int) -> None:
        super().__init__()
        self.spec = spec
        self.model = model
        self.image_size = image_size
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        self.mean = tuple(cfg.get("mean", (0.485, 0.456, 0.406)))
        self.std = tuple(cfg.get("std", (0.229, 0.224, 0.225)))
        # Reading the grid off one real forward keeps it right for every architecture timm has.
        with torch.no_grad():
            probe = self._spatial(torch.zeros(1, 3, image_size, image_size))
        self.grid = tuple(probe.shape[-2:])
        self.embed_dim = probe.shape[1]

    def _spatial(self, pixels: torch.Tensor) -> torch.Tensor:
        """Features of the chosen layer as ``[B, C, h, w]``."""
        indices = [self.spec.feature_layer]
        if self.spec.architecture == "vit":
            # NCHW output from a ViT is the patch grid with prefix/register tokens removed.
            return self.model.forward_intermediates(
                pixels, indices=indices, output_fmt="NCHW", intermediates_only=True
            )[0]
        return self.model.forward_intermediates(pixels, indices=indices, intermediates_only=True)[0]

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self._spatial(pixels).flatten(2).transpose(1, 2)


@register_loader("timm")
def build_timm(spec: EncoderSpec, tiny: bool) -> Encoder:
    import timm

    size = spec.tiny_resolution if tiny else spec.resolution
    kwargs: dict = {"num_classes": 0}
    if spec.architecture == "vit":
        kwargs["img_size"] = size
    if tiny:
        kwargs.update(spec.tiny)
    # The tagged name even for the twin, so its transform uses the real weights' mean and std.
    name = f"{spec.source}.{spec.weights}" if spec.weights else spec.source
    pretrained = not tiny and spec.weights is not None
    try:
        model = timm.create_model(name, pretrained=pretrained, **kwargs)
    except Exception as exc:  # timm raises many kinds; the user needs one line
        where = "the Hugging Face hub (offline)" if pretrained else "timm's model configs"
        raise HarnessError(
            f"cannot build encoder {spec.id!r} from timm model {name!r} via {where}: {exc}"
        ) from exc
    return TimmEncoder(spec, model.eval(), size)
