"""Connectors: map the tokens of one or more encoders into the LLM's embedding space.

Every connector takes a list of feature maps ``[B, h_k*w_k, C_k]`` (one per encoder, on known
grids) and returns ``[B, N, D_llm]`` with ``N = connector.num_tokens``:
- ``mlp2x_gelu``: LLaVA-1.5's two-layer MLP (one encoder).
- ``concat``: every encoder resampled to one grid, concatenated on channels, then the MLP
  (Cambrian's ensemble study, Prismatic's DINOv2+SigLIP).
- ``interleave``: MMVP's Interleaved-MoF, two encoders' tokens alternating, one MLP each.
- ``sva``: Cambrian's Spatial Vision Aggregator (windowed cross-attention from a learned grid);
  ``sva-llm`` also re-aggregates inside every 3rd LLM layer.

Each takes named hyperparameters (``harness.model.connector_options``); ``CONNECTORS.get``
also answers a name that carries them, ``sva(grid=12,layers=3)``, with the spec built so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.model.connector_options import (
    ConnectorOption,
    canonical_name,
    grid_size,
    non_negative_int,
    resolve_options,
    split_name,
)
from harness.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class FeatureShape:
    """What a connector needs to know about one encoder's output."""

    dim: int
    grid: tuple[int, int]


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


def mlp(in_dim: int, out_dim: int, depth: int = 2) -> nn.Sequential:
    """``depth`` linear layers with a GELU between each (LLaVA-1.5's ``mlp2x_gelu``: 2)."""
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    for _ in range(depth - 1):
        layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*layers)


def to_grid(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``[B, h*w, C]`` -> ``[B, C, h, w]``."""
    b, _, c = tokens.shape
    return tokens.transpose(1, 2).reshape(b, c, *grid)


def resample(tokens: torch.Tensor, grid: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """Tokens on ``grid`` bilinearly resampled to ``size`` (as Cambrian does before concat)."""
    if grid == size:
        return tokens
    maps = F.interpolate(to_grid(tokens, grid), size=size, mode="bilinear", align_corners=False)
    return maps.flatten(2).transpose(1, 2)


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
    def __init__(self, shapes: list[FeatureShape], llm_dim: int,
                 grid: tuple[int, int] | None = None, depth: int = 2) -> None:
        super().__init__()
        self.shapes = shapes
        # Default: the coarsest grid, so no encoder is upsampled into invented detail.
        self.grid = tuple(grid) if grid else min((s.grid for s in shapes),
                                                 key=lambda g: g[0] * g[1])
        self.num_tokens = self.grid[0] * self.grid[1]
        self.proj = mlp(sum(s.dim for s in shapes), llm_dim, depth)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        aligned = [resample(f, s.grid, self.grid) for f, s in zip(features, self.shapes,
                                                                     strict=True)]
        return self.proj(torch.cat(aligned, dim=-1))


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


# -- sva ------------------------------------------------------------------------------------
def windows(maps: torch.Tensor, side: int) -> torch.Tensor:
    """``[B, C, side*m, side*m]`` -> ``[B, side, side, m*m, C]``: query (i, j)'s m x m window."""
    b, c, h, w = maps.shape
    m = h // side
    x = maps.reshape(b, c, side, m, side, m)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, side, side, m * m, c)


class SVALayer(nn.Module):
    """One aggregation layer: windowed multi-head cross-attention, then an MLP, pre-norm."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise HarnessError(f"sva: hidden dim {dim} is not divisible by heads={heads}")
        self.heads = heads
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """queries ``[B, Q, C]``; keys ``[B, Q, K, C]`` (each query's own window tokens)."""
        b, q, k, c = keys.shape
        h = self.heads
        kv = self.norm_kv(keys)
        query = self.q(self.norm_q(queries)).reshape(b, q, 1, h, c // h).transpose(2, 3)
        key = self.k(kv).reshape(b, q, k, h, c // h).transpose(2, 3)
        value = self.v(kv).reshape(b, q, k, h, c // h).transpose(2, 3)
        attended = F.scaled_dot_product_attention(query, key, value)  # [B, Q, h, 1, c/h]
        queries = queries + self.out(attended.reshape(b, q, c))
        return queries + self.mlp(self.norm_mlp(queries))


class SVAConnector(Connector):
    """Cambrian-1's Spatial Vision Aggregator.

    A learned ``L x L`` query grid (one learned vector per query group, plus a global context
    vector: the mean of all encoders' projected tokens). Query (i, j) attends only to its
    ``m_k x m_k`` window of encoder k's map, where ``m_k = side_k / L``, jointly over all
    encoders, through ``layers`` stacked layers. The G groups' outputs are concatenated on
    channels and projected to the LLM width.

    With ``llm_every=k`` the image tokens also re-aggregate inside the LLM: at the input of
    every k-th decoder layer from ``llm_start`` (0, k, 2k, ... by default) their hidden states
    query their own windows again (``LLMReaggregation``; the MLLM attaches it with
    ``attach_llm``). ``depth`` is the output MLP's number of linear layers.
    """

    def __init__(self, shapes: list[FeatureShape], llm_dim: int, *, query_side: int | None = None,
                 groups: int = 1, layers: int = 1, hidden: int | None = None,
                 heads: int = 4, llm_every: int = 0, llm_start: int = 0,
                 depth: int = 2) -> None:
        super().__init__()
        hidden = hidden or llm_dim
        self.hidden, self.heads, self.llm_dim, self.llm_every = hidden, heads, llm_dim, llm_every
        self.llm_start = llm_start
        self.reaggregation = nn.ModuleDict()
        self.shapes = shapes
        self.side = query_side or min(min(s.grid) for s in shapes)
        # Each map is resampled to a whole multiple of L so that windows tile it exactly.
        self.map_sides = [max(1, round(max(s.grid) / self.side)) * self.side for s in shapes]
        self.groups = groups
        self.kv_proj = nn.ModuleList(nn.Linear(s.dim, hidden) for s in shapes)
        self.group_queries = nn.Parameter(torch.randn(groups, hidden) * 0.02)
        self.position = nn.Parameter(torch.randn(self.side * self.side, hidden) * 0.02)
        self.context = nn.Linear(hidden, hidden)
        self.layers = nn.ModuleList(SVALayer(hidden, heads) for _ in range(layers))
        self.proj = mlp(groups * hidden, llm_dim, depth)
        self.num_tokens = self.side * self.side

    def window_keys(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Every query's window tokens across encoders ``[B, L*L, sum m_k^2, C]``, and the
        global context ``[B, C]``."""
        keys, pooled = [], []
        for f, shape, proj, side in zip(features, self.shapes, self.kv_proj, self.map_sides,
                                        strict=True):
            tokens = proj(resample(f, shape.grid, (side, side)))
            pooled.append(tokens.mean(dim=1))
            keys.append(windows(to_grid(tokens, (side, side)), self.side))
        b = features[0].shape[0]
        window = torch.cat(keys, dim=3)
        return window.reshape(b, self.side * self.side, -1, window.shape[-1]), \
            torch.stack(pooled).mean(dim=0)

    def attach_llm(self, num_layers: int) -> list[int]:
        """Build the re-aggregation modules for an LLM of ``num_layers`` decoder layers; the
        indices of the layers whose input they change (none without ``llm_every``)."""
        if self.llm_every and self.llm_start >= num_layers:
            raise HarnessError(f"sva-llm: start={self.llm_start} is past the LLM's last layer"
                               f" ({num_layers} layers: valid start 0 to {num_layers - 1})")
        chosen = list(range(self.llm_start, num_layers, self.llm_every)) if self.llm_every \
            else []
        for index in chosen:
            if str(index) not in self.reaggregation:
                self.reaggregation[str(index)] = LLMReaggregation(self.llm_dim, self.hidden,
                                                                  self.heads)
        return chosen

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.forward_with_keys(features)[0]

    def forward_with_keys(self, features: Sequence[torch.Tensor]
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """The visual tokens, and the window keys the LLM layers re-aggregate from."""
        keys, context = self.window_keys(features)
        b = keys.shape[0]
        outputs = []
        for g in range(self.groups):
            queries = (self.group_queries[g] + self.position).expand(b, -1, -1)
            queries = queries + self.context(context).unsqueeze(1)
            for layer in self.layers:
                queries = layer(queries, keys)
            outputs.append(queries)
        return self.proj(torch.cat(outputs, dim=-1)), keys


class LLMReaggregation(nn.Module):
    """Re-aggregation inside one LLM layer (Cambrian-1): the image tokens' hidden states
    ``[B, L*L, D_llm]`` query their own windows ``[B, L*L, K, C]`` again; the result is added
    to them. The output projection starts at zero, so attaching it changes nothing until
    training moves it."""

    def __init__(self, llm_dim: int, hidden: int, heads: int) -> None:
        super().__init__()
        self.into = nn.Linear(llm_dim, hidden)
        self.attend = SVALayer(hidden, heads)
        self.out = nn.Linear(hidden, llm_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, states: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return self.out(self.attend(self.into(states), keys))


DEPTH = ConnectorOption("depth", "depth", 2, "linear layers of the projection MLP")
SVA_OPTIONS = (
    ConnectorOption("grid", "query_side", None,
                    "side L of the L x L query grid (default: the coarsest encoder grid)"),
    ConnectorOption("groups", "groups", 1, "query groups G"),
    ConnectorOption("layers", "layers", 1, "stacked aggregation layers D"),
    ConnectorOption("heads", "heads", 4, "attention heads"),
    ConnectorOption("hidden", "hidden", None, "aggregation width (default: the LLM's)"),
    DEPTH,
)
SVA_LLM_OPTIONS = (
    *SVA_OPTIONS,
    ConnectorOption("every", "llm_every", 3, "re-aggregate at every k-th LLM layer"),
    ConnectorOption("start", "llm_start", 0, "first LLM layer that re-aggregates",
                    non_negative_int),
)


def _register() -> None:
    specs = [
        ConnectorSpec("mlp2x_gelu", "LLaVA-1.5: two linear layers with a GELU between",
                      MLPConnector, options=(DEPTH,)),
        ConnectorSpec("concat", "encoders resampled to one grid, concatenated on channels, MLP",
                      ConcatConnector, encoders=(1, None), options=(
                          ConnectorOption("grid", "grid", None, "target token grid, 12 or HxW"
                                          " (default: the coarsest encoder grid)", grid_size),
                          DEPTH)),
        ConnectorSpec("interleave", "MMVP's Interleaved-MoF: alternating tokens, one MLP each",
                      InterleaveConnector, encoders=(2, 2), options=(DEPTH,)),
        ConnectorSpec("sva", "Cambrian's Spatial Vision Aggregator (windowed cross-attention)",
                      SVAConnector, encoders=(1, None), options=SVA_OPTIONS),
        ConnectorSpec("sva-llm", "SVA, re-aggregating again at every 3rd LLM layer (Cambrian)",
                      partial(SVAConnector, llm_every=3), encoders=(1, None),
                      options=SVA_LLM_OPTIONS),
    ]
    for spec in specs:
        CONNECTORS.register(spec)


_register()
