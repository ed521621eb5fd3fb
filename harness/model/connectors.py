"""Connectors: map the tokens of one or more encoders into the LLM's embedding space.

Every connector takes a list of feature maps ``[B, h_k*w_k, C_k]`` (one per encoder, on known
grids) and returns ``[B, N, D_llm]`` with ``N = connector.num_tokens``:
- ``mlp2x_gelu``: LLaVA-1.5's two-layer MLP (one encoder).
- ``concat``: every encoder resampled to one grid, concatenated on channels, then the MLP
  (Cambrian's ensemble study, Prismatic's DINOv2+SigLIP).
- ``interleave``: MMVP's Interleaved-MoF, two encoders' tokens alternating, one MLP each.
- ``sva``: Cambrian-1's Spatial Vision Aggregator as its released code computes it, with its
  in-LLM modules (``harness.model.sva``, in the released 8B configuration by default);
- ``sva-lite``: this project's earlier simplified aggregator (``harness.model.sva_lite``),
  kept under its own name for the runs made with it.

Each takes named hyperparameters (``harness.model.connector_options``); ``CONNECTORS.get``
also answers a name that carries them, ``sva(grid=12,layers=3)``, with the spec built so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn

from harness.errors import HarnessError
from harness.model import sva, sva_lite
from harness.model.connector_options import (
    ConnectorOption,
    canonical_name,
    flag,
    grid_size,
    non_negative_int,
    resolve_options,
    split_name,
)
from harness.model.connector_parts import FeatureShape, mlp, resample
from harness.registry import Registry, UnknownNameError

RETIRED = {
    "sva-llm": "'sva-llm' is retired: 'sva' is now Cambrian's SVA with its in-LLM modules "
               "(sva(llm_modules=0) for the connector alone); the earlier simplified module "
               "is 'sva-lite' (sva-lite(every=3) re-aggregates in the LLM as sva-llm did)",
}
"""Names that once meant a connector, and what to ask for now."""


class Connector(nn.Module):
    num_tokens: int

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    description: str
    build: Callable[..., Connector]
    """``(shapes, llm_dim, **options) -> Connector``."""
    encoders: tuple[int, int | None] = (1, 1)
    """How many encoders it accepts: (at least, at most or None for any number)."""
    options: tuple[ConnectorOption, ...] = ()
    """The hyperparameters a sweep may set (``--connector-args``), each a keyword of
    ``build``."""
    version: int = 1
    """The implementation's version: raised when the same name and options start computing
    something else, so runs of the old one are never taken for runs of the new (it joins the
    run key above 1)."""
    shardable: bool = True
    """Whether FSDP may shard it (in the root unit, with any in-LLM modules); a plugin whose
    forward reaches parameters outside the MLLM's units says False, with ``shardable_why``,
    and FSDP sweeps refuse it at plan time."""
    shardable_why: str = ""

    @property
    def base(self) -> str:
        """The registered name, without options."""
        return split_name(self.name)[0]

    def with_options(self, raw: dict[str, str]) -> ConnectorSpec:
        """This connector with options set (text values, checked); named canonically, so the
        same choice always gives the same name, and all-default options give this spec."""
        values = resolve_options(self.base, self.options, raw)
        if not values:
            return self
        by_name = {o.name: o for o in self.options}
        arguments = {by_name[k].argument: v for k, v in values.items()}
        return replace(self, name=canonical_name(self.base, values),
                       build=partial(self.build, **arguments))

    def create(self, shapes: Sequence[FeatureShape], llm_dim: int, **options) -> Connector:
        low, high = self.encoders
        if len(shapes) < low or (high is not None and len(shapes) > high):
            wanted = f"{low}" if low == high else f"{low} or more" if high is None else \
                f"{low} to {high}"
            raise HarnessError(
                f"connector {self.name!r} takes {wanted} encoder(s), got {len(shapes)}")
        return self.build(list(shapes), llm_dim, **options)


class ConnectorRegistry(Registry[ConnectorSpec]):
    """The connector registry; ``get`` also takes a name with options (``sva(grid=12)``)."""

    def get(self, name: str) -> ConnectorSpec:
        if split_name(name)[0] in RETIRED and split_name(name)[0] not in self:
            raise UnknownNameError(RETIRED[split_name(name)[0]])
        if "(" not in name:
            return super().get(name)
        base, raw = split_name(name)
        if base not in self:
            valid = ", ".join(self.names())
            raise UnknownNameError(f"unknown connector {base!r}; valid: {valid}")
        return super().get(base).with_options(raw)

    def provenance(self, name: str):
        return super().provenance(split_name(name)[0])


CONNECTORS: Registry[ConnectorSpec] = ConnectorRegistry(
    "connector", "harness.connectors", name_of=lambda c: c.name, item_type=ConnectorSpec
)


# -- mlp2x_gelu -----------------------------------------------------------------------------
class MLPConnector(Connector):
    def __init__(self, shapes: list[FeatureShape], llm_dim: int, depth: int = 2) -> None:
        super().__init__()
        self.proj = mlp(shapes[0].dim, llm_dim, depth)
        self.num_tokens = shapes[0].grid[0] * shapes[0].grid[1]

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.proj(features[0])


# -- concat ---------------------------------------------------------------------------------
class ConcatConnector(Connector):
    """Every encoder resampled (bilinear) to one grid, concatenated on channels, the MLP.
    Cambrian-1's Table 2 ensembles: "interpolation + concatenation to 576 tokens", i.e.
    ``concat(grid=24)``. ``newline`` adds a learned token after each row (as Cambrian's final
    models do; no source says the Table 2 study did, so it is off by default)."""

    def __init__(self, shapes: list[FeatureShape], llm_dim: int,
                 grid: tuple[int, int] | None = None, depth: int = 2,
                 newline: bool = False) -> None:
        super().__init__()
        self.shapes = shapes
        # Default: the coarsest grid, so no encoder is upsampled into invented detail.
        self.grid = tuple(grid) if grid else min((s.grid for s in shapes),
                                                 key=lambda g: g[0] * g[1])
        self.num_tokens = self.grid[0] * (self.grid[1] + (1 if newline else 0))
        self.proj = mlp(sum(s.dim for s in shapes), llm_dim, depth)
        self.newline = nn.Parameter(torch.randn(llm_dim) / llm_dim ** 0.5) if newline \
            else None

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        aligned = [resample(f, s.grid, self.grid) for f, s in zip(features, self.shapes,
                                                                     strict=True)]
        tokens = self.proj(torch.cat(aligned, dim=-1))
        if self.newline is None:
            return tokens
        b, (h, w) = tokens.shape[0], self.grid
        newline = self.newline.to(tokens.dtype).expand(b, h, 1, -1)
        return torch.cat([tokens.reshape(b, h, w, -1), newline], dim=2).flatten(1, 2)


# -- interleave -----------------------------------------------------------------------------
class InterleaveConnector(Connector):
    """Each encoder gets its own MLP; token i of encoder A is followed by token i of B."""

    def __init__(self, shapes: list[FeatureShape], llm_dim: int, depth: int = 2) -> None:
        super().__init__()
        self.shapes = shapes
        self.grid = min((s.grid for s in shapes), key=lambda g: g[0] * g[1])
        self.projs = nn.ModuleList(mlp(s.dim, llm_dim, depth) for s in shapes)
        self.num_tokens = len(shapes) * self.grid[0] * self.grid[1]

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        parts = [proj(resample(f, s.grid, self.grid))
                 for proj, f, s in zip(self.projs, features, self.shapes, strict=True)]
        stacked = torch.stack(parts, dim=2)  # [B, N, encoders, D]
        return stacked.flatten(1, 2)


DEPTH = ConnectorOption("depth", "depth", 2, "linear layers of the projection MLP")
SVA_OPTIONS = (
    ConnectorOption("grid", "query_side", sva.QUERY_SIDE,
                    "side L of the final L x L query grid (Cambrian-8B: 24, 576 tokens)"),
    ConnectorOption("groups", "groups", sva.GROUPS, "query groups"),
    ConnectorOption("layers", "depth", sva.DEPTH, "aggregation layers per group"),
    ConnectorOption("heads", "heads", sva.HEADS, "attention heads"),
    ConnectorOption("hidden", "hidden", sva.HIDDEN, "aggregation width"),
    ConnectorOption("newline", "newline", True, "a learned token after each row (1 or 0)",
                    flag),
    ConnectorOption("llm_modules", "llm_modules", sva.LLM_MODULES,
                    "in-LLM aggregation modules (0: the connector alone)", non_negative_int),
    ConnectorOption("llm_start", "llm_start", sva.LLM_START,
                    "the decoder layer the first in-LLM module follows", non_negative_int),
    ConnectorOption("llm_stride", "llm_stride", sva.LLM_STRIDE,
                    "decoder layers from one in-LLM module to the next"),
)
SVA_LITE_OPTIONS = (
    ConnectorOption("grid", "query_side", None,
                    "side L of the L x L query grid (default: the coarsest encoder grid)"),
    ConnectorOption("groups", "groups", 1, "query groups G"),
    ConnectorOption("layers", "layers", 1, "stacked aggregation layers D"),
    ConnectorOption("heads", "heads", 4, "attention heads"),
    ConnectorOption("hidden", "hidden", None, "aggregation width (default: the LLM's)"),
    ConnectorOption("every", "llm_every", 0, "re-aggregate at every k-th LLM layer (0: never)",
                    non_negative_int),
    ConnectorOption("start", "llm_start", 0, "first LLM layer that re-aggregates",
                    non_negative_int),
    DEPTH,
)


def _register() -> None:
    specs = [
        ConnectorSpec("mlp2x_gelu", "LLaVA-1.5: two linear layers with a GELU between",
                      MLPConnector, options=(DEPTH,)),
        ConnectorSpec("concat", "encoders resampled to one grid, concatenated on channels, MLP",
                      ConcatConnector, encoders=(1, None), options=(
                          ConnectorOption("grid", "grid", None, "target token grid, 12 or HxW"
                                          " (default: the coarsest encoder grid; Cambrian's "
                                          "Table 2: 24, 576 tokens)", grid_size),
                          DEPTH,
                          ConnectorOption("newline", "newline", False,
                                          "a learned token after each row (1 or 0)", flag))),
        ConnectorSpec("interleave", "MMVP's Interleaved-MoF: alternating tokens, one MLP each",
                      InterleaveConnector, encoders=(2, 2), options=(DEPTH,)),
        # Version 2: Cambrian's own module (version 1, this project's first, is sva-lite).
        ConnectorSpec("sva", "Cambrian-1's Spatial Vision Aggregator, with its in-LLM modules",
                      sva.SVAConnector, encoders=(1, None), options=SVA_OPTIONS, version=2),
        ConnectorSpec("sva-lite", "this project's earlier, simplified aggregator (not "
                      "Cambrian's)", sva_lite.LiteSVAConnector, encoders=(1, None),
                      options=SVA_LITE_OPTIONS),
    ]
    for spec in specs:
        CONNECTORS.register(spec)


_register()
