"""The ``transformers`` loader kind: a Hugging Face vision model (I-JEPA, DPT/MiDaS, DINOv2, ...)
whose hidden states are read at the feature layer, prefix/register tokens dropped.

``source`` is a hub repository id, loaded with ``from_pretrained`` (a local folder from
``weights_path`` / ``$HARNESS_WEIGHTS_DIR`` first; safetensors preferred, as transformers does).
``weights`` None builds random weights from the hub config. Options: ``model_class`` (a
transformers class name, default ``AutoModel``), ``model_type`` (the config type the twin is
built from; ``spec.tiny`` are its config overrides), ``revision``. Position embeddings are
interpolated to the input size where the model supports it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoConfig

from harness.encoder import Encoder, EncoderSpec, plain
from harness.errors import HarnessError
from harness.loaders.registry import register_loader
from harness.loaders.weights import local_weights, missing_weights, one_line


class _Reached(Exception):
    """Raised by the hook on the feature layer's block, carrying its output: the blocks after
    it (and the final norm, the pooler, a DPT neck) are not run at all."""

    def __init__(self, hidden: torch.Tensor) -> None:
        super().__init__()
        self.hidden = hidden


def _blocks(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The model's list of transformer blocks (``encoder.layer`` or ``encoder.layers``, under
    ``vision_model`` for CLIP-style towers), or None for another layout."""
    for owner in (getattr(model, "vision_model", None), model):
        encoder = getattr(owner, "encoder", None)
        for name in ("layer", "layers"):
            blocks = getattr(encoder, name, None)
            if isinstance(blocks, torch.nn.ModuleList) and len(blocks):
                return blocks
    return None


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class HFEncoder(Encoder):
    def __init__(self, spec: EncoderSpec, model: torch.nn.Module, image_size: int) -> None:
        super().__init__()
        self.model = model
        config = model.config
        patch = getattr(config, "patch_size", 16)
        self.patch = tuple(patch) if isinstance(patch, list | tuple) else (patch, patch)
        params = inspect.signature(model.forward).parameters
        self._forward_kwargs: dict[str, Any] = {"output_hidden_states": True,
                                                "return_dict": True}
        if "interpolate_pos_encoding" in params:
            self._forward_kwargs["interpolate_pos_encoding"] = True
        self._stop_hook: torch.utils.hooks.RemovableHandle | None = None
        blocks = _blocks(model)
        if blocks is not None:
            # hidden_states[i] is block i-1's output (0 is the embeddings): a feature layer
            # before the last is read off its block, and the rest is never computed.
            index = spec.feature_layer % (len(blocks) + 1)
            if 0 < index < len(blocks):
                self._stop_hook = blocks[index - 1].register_forward_hook(self._reached)
                # The hook hands over the block's output: no need to keep every block's.
                self._forward_kwargs["output_hidden_states"] = False
        mean = tuple(getattr(config, "image_mean", None) or IMAGENET_MEAN)
        std = tuple(getattr(config, "image_std", None) or IMAGENET_STD)
        self._finish(spec, image_size, mean, std)

    @staticmethod
    def _reached(_module: torch.nn.Module, _args: tuple, output: Any) -> None:
        raise _Reached(output[0] if isinstance(output, tuple) else output)

    def spatial(self, pixels: torch.Tensor) -> torch.Tensor:
        try:
            out = self.model(pixel_values=pixels, **self._forward_kwargs)
            # hidden_states[0] is the embedding output, so [-2] is the second to last block's.
            hidden = out.hidden_states[self.spec.feature_layer]
        except _Reached as reached:
            hidden = reached.hidden
        h, w = pixels.shape[-2] // self.patch[0], pixels.shape[-1] // self.patch[1]
        # Prefix tokens (CLS, registers) come first; the patch grid is the last h*w tokens.
        tokens = hidden[:, hidden.shape[1] - h * w:]
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], h, w)


def _model_class(name: str) -> Any:
    cls = getattr(transformers, name, None)
    if cls is None:
        raise HarnessError(f"transformers has no model class {name!r}")
    return cls


@register_loader("transformers")
def build_transformers(spec: EncoderSpec, tiny: bool, *,
                       weights_path: Path | None = None,
                       pretrained: bool = True) -> Encoder:
    options = plain(spec.options)
    cls = _model_class(options.pop("model_class", "AutoModel"))
    model_type = options.pop("model_type", None)
    revision = options.pop("revision", None)
    size = spec.tiny_resolution if tiny else spec.resolution
    if tiny:
        if model_type is None:
            raise HarnessError(f"encoder {spec.id!r}: its twin needs options.model_type")
        config = AutoConfig.for_model(model_type, **plain(spec.tiny), **options)
        config.image_size = size
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
        return HFEncoder(spec, model.eval(), size)
    local, looked = local_weights(spec, weights_path) if pretrained else (None, [])
    where = str(local) if local is not None else spec.source
    try:
        if (spec.weights is None or not pretrained) and local is None:
            config = AutoConfig.from_pretrained(where, revision=revision, **options)
            model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
        else:
            model = cls.from_pretrained(where, revision=revision, **options)
    except Exception as exc:  # OSError offline, ValueError for a bad folder, ...
        if not pretrained:
            raise HarnessError(f"no config for encoder {spec.id!r} from {spec.source!r}"
                               f" (offline?): {one_line(exc)}") from exc
        if local is not None:
            raise HarnessError(f"cannot load encoder {spec.id!r} from {local}:"
                               f" {one_line(exc)}") from exc
        raise missing_weights(spec, looked, f"the Hugging Face hub ({spec.source!r})",
                              exc) from exc
    return HFEncoder(spec, model.eval(), size)
