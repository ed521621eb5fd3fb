"""The encoder contract: a spec (what it is, where its weights live) and a module that turns
images into spatial tokens ``[B, h*w, C]`` on a known grid, with the transform that belongs to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import nn

from harness.errors import HarnessError
from harness.registry import Registry

Group = Literal["clip", "ssl", "convnext", "other"]
GROUPS: tuple[str, ...] = ("clip", "ssl", "convnext", "other")
SUPERVISIONS: tuple[str, ...] = ("language", "self", "labels", "other")
ARCHITECTURES: tuple[str, ...] = ("vit", "convnet")


@dataclass(frozen=True)
class EncoderSpec:
    """Everything needed to build one encoder, and to tell it apart on the leaderboard.

    The id keeps architecture and weights apart (``clip-vit-l14-336.openai``): the part before
    the dot names the network, the part after it the weights.
    """

    id: str
    group: str
    supervision: str
    architecture: str
    resolution: int
    """Native input size in pixels (square)."""
    loader: str
    """How the network is built and its weights loaded: a key of ``LOADERS`` (``timm``...)."""
    source: str
    """The loader's model name, e.g. a timm architecture name."""
    weights: str | None = None
    """The loader's pretrained tag (timm ``name.tag``), or None for random weights."""
    feature_layer: int = -2
    """Which block's output to read; LLaVA, Prismatic and Cambrian read the second to last."""
    tiny: Mapping[str, Any] = field(default_factory=dict)
    """Constructor overrides that make the tiny, random-weight twin of the same architecture."""
    tiny_resolution: int = 112
    description: str = ""
    version: str = "1"
    """Bump when the spec changes in a way that changes results (new run keys follow)."""

    def __post_init__(self) -> None:
        if "." not in self.id:
            raise HarnessError(f"encoder id {self.id!r} must be 'architecture.weights'")
        for name, value, valid in (
            ("group", self.group, GROUPS),
            ("supervision", self.supervision, SUPERVISIONS),
            ("architecture", self.architecture, ARCHITECTURES),
        ):
            if value not in valid:
                raise HarnessError(
                    f"encoder {self.id!r}: bad {name} {value!r}; valid: {', '.join(valid)}"
                )
        object.__setattr__(self, "tiny", MappingProxyType(dict(self.tiny)))

    def fingerprint(self, *, tiny: bool) -> dict[str, Any]:
        """The fields that decide this encoder's output: part of every run key."""
        return {
            "id": self.id,
            "version": self.version,
            "loader": self.loader,
            "source": self.source,
            "weights": None if tiny else self.weights,
            "feature_layer": self.feature_layer,
            "resolution": self.tiny_resolution if tiny else self.resolution,
            "tiny": dict(self.tiny) if tiny else None,
        }


class Encoder(nn.Module):
    """An image encoder as the MLLM sees it.

    Subclasses set ``embed_dim``, ``grid`` and ``image_size`` and implement ``features``.
    The wrapper owns the freezing policy so the trainer never reaches inside the network.
    """

    spec: EncoderSpec
    embed_dim: int
    grid: tuple[int, int]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    def features(self, pixels: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        tokens = self.features(pixels)
        if tokens.shape[1:] != (self.num_tokens, self.embed_dim):
            raise RuntimeError(
                f"{self.spec.id} gave tokens of shape {tuple(tokens.shape)}, expected"
                f" [B, {self.num_tokens}, {self.embed_dim}]"
            )
        return tokens

    def transform(self) -> Callable:
        """PIL image -> normalised tensor ``[3, S, S]`` at this encoder's input size."""
        from torchvision.transforms import v2

        return v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize(
                    (self.image_size, self.image_size),
                    interpolation=v2.InterpolationMode.BICUBIC,
                    antialias=True,
                ),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(mean=list(self.mean), std=list(self.std)),
            ]
        )

    def set_trainable(self, trainable: bool) -> None:
        self.requires_grad_(trainable)
        # A frozen encoder also runs in eval mode so dropout/drop-path never perturb features.
        self.train(trainable)

    @property
    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


EncoderBuilder = Callable[[EncoderSpec, bool], Encoder]

ENCODERS: Registry[EncoderSpec] = Registry(
    "encoder", "harness.encoders", name_of=lambda s: s.id, item_type=EncoderSpec
)
LOADERS: Registry[tuple[str, EncoderBuilder]] = Registry(
    "encoder loader", None, name_of=lambda pair: pair[0], item_type=tuple
)


def register_loader(name: str) -> Callable[[EncoderBuilder], EncoderBuilder]:
    """Decorator: ``@register_loader("timm")`` on a function ``(spec, tiny) -> Encoder``."""

    def wrap(fn: EncoderBuilder) -> EncoderBuilder:
        LOADERS.register((name, fn))
        return fn

    return wrap


def build_encoder(spec: EncoderSpec, *, tiny: bool) -> Encoder:
    """Build the encoder (or its tiny random-weight twin) through its loader."""
    import harness.loaders  # noqa: F401  (registers the loader kinds)

    _, builder = LOADERS.get(spec.loader)
    return builder(spec, tiny)
