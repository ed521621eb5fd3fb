"""The encoder contract: a spec (what it is, where its weights live) and a module that turns
images into spatial tokens ``[B, h*w, C]`` on a known grid, with the transform that belongs to it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch
from torch import nn
from torchvision.transforms import v2

from harness.combination import COMBINE, is_combination
from harness.errors import HarnessError
from harness.record import GROUPS
from harness.registry import Registry

SUPERVISIONS: tuple[str, ...] = ("language", "self", "labels", "other")
ARCHITECTURES: tuple[str, ...] = ("vit", "convnet")
TINY_MAX_PARAMETERS = 2_000_000
TINY_MAX_WIDTH = 256
TINY_MAX_TOKENS = 256
"""What a tiny twin should stay within, so a smoke sweep of every encoder stays minutes on a
laptop CPU (the built-in twins are 0.06-0.43M parameters, 64-96 wide, 4x4 or 8x8 tokens)."""
PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16,
}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: _frozen(v) if isinstance(v, Mapping) else v
                             for k, v in mapping.items()})


def plain(value: Any) -> Any:
    """A JSON-able copy of a (nested, read-only) mapping or tuple, for fingerprints."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


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
    """How the network is built and its weights loaded: a key of ``LOADERS`` (``timm``,
    ``open_clip``, ``transformers``, ``file``, ``diffusers``)."""
    source: str
    """The loader's model name: a timm or open_clip architecture, a hub repository id."""
    weights: str | None = None
    """The loader's pretrained tag (timm ``name.tag``, open_clip ``pretrained``), a checkpoint
    URL or ``package:`` resource for the ``file`` loader, or None for random weights."""
    feature_layer: int = -2
    """Which block's output to read; LLaVA, Prismatic and Cambrian read the second to last."""
    tiny: Mapping[str, Any] = field(default_factory=dict)
    """Constructor overrides that make the tiny, random-weight twin of the same architecture."""
    tiny_resolution: int = 112
    description: str = ""
    version: str = "1"
    """Bump when the spec changes in a way that changes results (new run keys follow)."""
    tiny_source: str = ""
    """The loader's name for the twin's architecture when overrides cannot shrink ``source``
    (e.g. timm's ``test_efficientnet`` for an EfficientNet); empty means ``source``."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Loader-specific build options (see each module in ``harness/loaders``)."""
    mean: tuple[float, float, float] | None = None
    """Input normalisation, when the loader cannot read it from the weights' own config."""
    std: tuple[float, float, float] | None = None
    output_grid: tuple[int, int] | None = None
    """Resample the token grid to this ``(h, w)`` (bilinear, as Cambrian does before
    concatenating encoders); None keeps the native grid."""
    precision: str = "fp32"
    """Weights held and run in this dtype (``fp32``, ``bf16``, ``fp16``); tokens come back in
    the caller's dtype."""
    requires: tuple[str, ...] = ()
    """Import names this encoder needs beyond the core install (e.g. ``diffusers``)."""
    extra: str = ""
    """The pip extra of the providing distribution that installs ``requires``."""

    def __post_init__(self) -> None:
        if "." not in self.id or self.id.startswith(".") or self.id.endswith("."):
            raise HarnessError(f"encoder id {self.id!r} must be 'architecture.weights'")
        if is_combination(self.id):
            raise HarnessError(f"encoder id {self.id!r} may not contain {COMBINE!r}: a sweep"
                               f" joins encoder ids with it (--encoders a{COMBINE}b)")
        for name, value, valid in (
            ("group", self.group, GROUPS),
            ("supervision", self.supervision, SUPERVISIONS),
            ("architecture", self.architecture, ARCHITECTURES),
            ("precision", self.precision, tuple(PRECISIONS)),
        ):
            if value not in valid:
                raise HarnessError(
                    f"encoder {self.id!r}: bad {name} {value!r}; valid: {', '.join(valid)}"
                )
        for name in ("resolution", "tiny_resolution"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise HarnessError(f"encoder {self.id!r}: bad {name} {getattr(self, name)!r};"
                                   " expected a positive number of pixels")
        if self.output_grid is not None:
            grid = tuple(self.output_grid)
            if len(grid) != 2 or not all(isinstance(n, int) and n > 0 for n in grid):
                raise HarnessError(f"encoder {self.id!r}: bad output_grid {self.output_grid!r};"
                                   " expected (h, w) with positive integers")
            object.__setattr__(self, "output_grid", grid)
        if isinstance(self.requires, str):
            object.__setattr__(self, "requires", (self.requires,))
        object.__setattr__(self, "requires", tuple(self.requires))
        object.__setattr__(self, "tiny", _frozen(dict(self.tiny)))
        object.__setattr__(self, "options", _frozen(dict(self.options)))
        for name in ("mean", "std"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    @property
    def network(self) -> str:
        """The architecture half of the id."""
        return self.id.split(".", 1)[0]

    @property
    def weights_name(self) -> str:
        """The weights half of the id."""
        return self.id.split(".", 1)[1]

    def fingerprint(self, *, tiny: bool) -> dict[str, Any]:
        """The fields that decide this encoder's output: part of every run key."""
        fp: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "loader": self.loader,
            "source": self.source,
            "weights": None if tiny else self.weights,
            "feature_layer": self.feature_layer,
            "resolution": self.tiny_resolution if tiny else self.resolution,
            "tiny": dict(self.tiny) if tiny else None,
        }
        # Newer fields join the key only when set, so run keys of plain specs stay stable.
        optional = {
            "tiny_source": self.tiny_source if tiny else "",
            "options": plain(self.options),
            "mean": self.mean, "std": self.std,
            "output_grid": list(self.output_grid) if self.output_grid else None,
            "precision": self.precision if self.precision != "fp32" else None,
        }
        fp.update({k: v for k, v in optional.items() if v})
        fp["tiny"] = plain(fp["tiny"])
        return fp

    def overridden(self, *, tiny: bool = False, resolution: int | None = None,
                   output_grid: tuple[int, int] | None = None,
                   feature_layer: int | None = None, precision: str | None = None,
                   ) -> EncoderSpec:
        """This spec with build-time overrides applied (they then show in the fingerprint).

        ``resolution`` changes the size the encoder runs at (the twin's size when ``tiny``);
        position embeddings are interpolated to it by the loader.
        """
        changes: dict[str, Any] = {}
        if resolution is not None:
            changes["tiny_resolution" if tiny else "resolution"] = resolution
        if output_grid is not None:
            changes["output_grid"] = tuple(output_grid)
        if feature_layer is not None:
            changes["feature_layer"] = feature_layer
        if precision is not None:
            changes["precision"] = precision
        return replace(self, **changes) if changes else self


class Encoder(nn.Module):
    """An image encoder as the MLLM sees it.

    Subclasses implement ``spatial`` (features of the chosen layer as ``[B, C, h, w]``) and call
    ``_finish`` at the end of ``__init__``; the base class reads the grid and width off one
    probe forward, resamples to the spec's output grid, and owns precision and freezing, so the
    trainer never reaches inside the network. (A subclass may instead implement ``features``
    and set ``grid``, ``native_grid`` and ``embed_dim`` itself.)
    """

    spec: EncoderSpec
    embed_dim: int
    grid: tuple[int, int]
    """The token grid ``forward`` returns (the spec's ``output_grid`` when set)."""
    native_grid: tuple[int, int]
    """The grid the network itself produces at ``image_size``."""
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    dtype: torch.dtype = torch.float32

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1]

    def spatial(self, pixels: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, h*w, C]`` on the native grid, prefix/register tokens removed."""
        return self.spatial(pixels).flatten(2).transpose(1, 2)

    def _finish(self, spec: EncoderSpec, image_size: int,
                mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        """Set the contract attributes once the network is built (call from ``__init__``)."""
        self.spec = spec
        self.image_size = image_size
        self.mean = tuple(spec.mean or mean)
        self.std = tuple(spec.std or std)
        # Built in eval mode (the trainer decides with set_trainable). One real forward keeps
        # the grid right for every architecture a loader can build.
        self.eval()
        with torch.no_grad():
            probe = self.spatial(torch.zeros(1, 3, image_size, image_size))
        self.native_grid = (int(probe.shape[-2]), int(probe.shape[-1]))
        self.embed_dim = int(probe.shape[1])
        self.grid = spec.output_grid or self.native_grid
        self.dtype = PRECISIONS[spec.precision]
        if self.dtype != torch.float32:
            self.to(self.dtype)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        out_dtype = pixels.dtype
        tokens = self.features(pixels.to(self.dtype))
        if self.grid != self.native_grid:
            tokens = resample_tokens(tokens, self.native_grid, self.grid)
        if tokens.shape[1:] != (self.num_tokens, self.embed_dim):
            raise RuntimeError(
                f"{self.spec.id} gave tokens of shape {tuple(tokens.shape)}, expected"
                f" [B, {self.num_tokens}, {self.embed_dim}]"
            )
        return tokens.to(out_dtype)

    def transform(self) -> Callable:
        """PIL image -> normalised tensor ``[3, S, S]`` at this encoder's input size."""
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


def resample_tokens(tokens: torch.Tensor, grid: tuple[int, int],
                    target: tuple[int, int]) -> torch.Tensor:
    """``[B, h*w, C]`` on ``grid`` -> ``[B, H*W, C]`` on ``target``, bilinear (Cambrian's way of
    bringing encoders to one grid before concatenating them)."""
    b, n, c = tokens.shape
    if n != grid[0] * grid[1]:
        raise RuntimeError(f"{n} tokens do not fill a {grid[0]}x{grid[1]} grid")
    maps = tokens.transpose(1, 2).reshape(b, c, *grid)
    maps = nn.functional.interpolate(maps.float(), size=target, mode="bilinear",
                                     align_corners=False).to(tokens.dtype)
    return maps.flatten(2).transpose(1, 2)


ENCODERS: Registry[EncoderSpec] = Registry(
    "encoder", "harness.encoders", name_of=lambda s: s.id, item_type=EncoderSpec
)
def missing_requirements(spec: EncoderSpec) -> list[str]:
    """The import names in ``spec.requires`` that are not installed."""
    return [name for name in spec.requires if importlib.util.find_spec(name) is None]


def install_hint(spec: EncoderSpec) -> str:
    """How to install what the spec requires, e.g. ``pip install 'encoder-harness[diffusers]'``."""
    missing = missing_requirements(spec) or list(spec.requires)
    if spec.extra:
        dist = ENCODERS.provenance(spec.id).distribution if spec.id in ENCODERS else (
            "encoder-harness")
        return f"pip install '{dist}[{spec.extra}]'"
    return "pip install " + " ".join(missing)


def unavailable_encoders(*, strict: bool = False) -> dict[str, str]:
    """Registered encoders whose optional requirements are missing: id -> one-line note."""
    ENCODERS.discover(strict=strict)
    notes = {}
    for spec in ENCODERS.items():
        missing = missing_requirements(spec)
        if missing:
            notes[spec.id] = f"needs {', '.join(missing)}: {install_hint(spec)}"
    return notes


def available_encoder_ids(*, strict: bool = False) -> list[str]:
    """The ids ``--encoders all`` should run: every registered encoder whose requirements are
    installed (see ``unavailable_encoders`` for the others and why)."""
    skipped = unavailable_encoders(strict=strict)
    return [name for name in ENCODERS.names() if name not in skipped]
