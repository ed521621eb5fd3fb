"""Cambrian-1's Spatial Vision Aggregator, as its released code computes it (checked number
for number against that code's outputs: tests/harness/model/test_sva.py).

Each encoder's tokens are projected to a common width H (Linear-GELU-Linear-LayerNorm). A
query group is one learned vector, repeated over an ``L x L`` grid; query (i, j) attends only
to its ``m_k x m_k`` window of encoder k's map (``m_k = side_k / L``), each encoder through its
own key and value projections and with a learned position embedding over its window. The
global context, encoder 0's mean projected token, joins every query through ``proj_in``. A
layer computes ``q + MLP(LN(proj_in([q; c]) + attention))``; a group stacks ``depth`` layers
in its own sampler. The groups' grids are resized to the final one, concatenated on channels
and projected to the LLM width, and a learned ``newline`` token closes every row.

Inside the LLM, after chosen decoder layers, the image tokens' hidden states query their
windows again with one such layer each (``InLLMAggregation``), replacing themselves (the
layer adds its own residual); the newline positions are left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.model.connector_parts import FeatureShape, resample, to_grid, windows

# The released Cambrian-1 8B configuration (its training scripts): what ``sva`` builds
# unless options say otherwise.
HIDDEN = 1024
HEADS = 16
GROUPS = 1
DEPTH = 3
QUERY_SIDE = 24
"""576 image tokens (before the newlines)."""
LLM_MODULES = 10
LLM_START = 0
LLM_STRIDE = 3
"""After decoder layers 0, 3, ..., 27 of the 8B model's 32."""


def projector(in_dim: int, hidden: int) -> nn.Sequential:
    """Cambrian's per-encoder projection: Linear, GELU, Linear, LayerNorm."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                         nn.LayerNorm(hidden))


def _normed_linear(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim, bias=False))


class WindowAttention(nn.Module):
    """Multi-head attention of each query over its windows of every encoder, one key and
    one value projection per encoder (LayerNorm then Linear, no bias)."""

    def __init__(self, hidden: int, encoders: int, heads: int) -> None:
        super().__init__()
        if hidden % heads:
            raise HarnessError(f"sva: width {hidden} is not divisible by heads={heads}")
        self.heads = heads
        self.q_proj = _normed_linear(hidden, hidden)
        for i in range(encoders):
            self.add_module(f"k_proj_{i}", _normed_linear(hidden, hidden))
            self.add_module(f"v_proj_{i}", _normed_linear(hidden, hidden))
        self.o_proj = nn.Linear(hidden, hidden, bias=False)
        self.encoders = encoders

    def forward(self, queries: torch.Tensor, windows: Sequence[torch.Tensor]) -> torch.Tensor:
        """queries ``[N, 1, H]``; windows: per encoder ``[N, m_k^2, H]`` (N = batch x queries)."""
        n, q, hidden = queries.shape
        h = self.heads

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(n, -1, h, hidden // h).transpose(1, 2)

        keys = torch.cat([getattr(self, f"k_proj_{i}")(w) for i, w in enumerate(windows)], 1)
        values = torch.cat([getattr(self, f"v_proj_{i}")(w) for i, w in enumerate(windows)], 1)
        attended = F.scaled_dot_product_attention(heads(self.q_proj(queries)), heads(keys),
                                                  heads(values))
        return self.o_proj(attended.transpose(1, 2).reshape(n, q, hidden))


class MLP(nn.Module):
    """Two linear layers without bias, a GELU between."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, hidden, bias=False)
        self.linear_2 = nn.Linear(hidden, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(x)))


class AggregationLayer(nn.Module):
    """``q + MLP(LN(proj_in([q; proj_context(c)]) + attention))``: queries of width
    ``query_dim`` (H in the connector, the LLM's width inside it) aggregate windows of
    width H."""

    def __init__(self, query_dim: int, hidden: int, windows: Sequence[int], heads: int) -> None:
        super().__init__()
        self.proj_context = nn.Linear(hidden, hidden, bias=False)
        self.proj_in = nn.Linear(query_dim + hidden, hidden, bias=False)
        self.cross_attn = WindowAttention(hidden, len(windows), heads)
        self.norm = nn.LayerNorm(hidden)
        self.proj_out = MLP(hidden, hidden, query_dim)
        for i, side in enumerate(windows):
            if side > 1:  # a one-token window has no positions to tell apart
                self.register_parameter(f"pos_embed_{i}",
                                        nn.Parameter(torch.randn(side * side, hidden)))

    def forward(self, queries: torch.Tensor, context: torch.Tensor,
                windows: Sequence[torch.Tensor]) -> torch.Tensor:
        mixed = self.proj_in(torch.cat([queries, self.proj_context(context)], dim=-1))
        placed = [w + getattr(self, f"pos_embed_{i}").to(w.dtype) if w.shape[1] > 1 else w
                  for i, w in enumerate(windows)]
        attended = mixed + self.cross_attn(mixed, placed)
        return queries + self.proj_out(self.norm(attended))


class Sampler(nn.Module):
    """A stack of aggregation layers (one query group's, or one in-LLM module's)."""

    def __init__(self, query_dim: int, hidden: int, windows: Sequence[int], heads: int,
                 depth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(AggregationLayer(query_dim, hidden, windows, heads)
                                    for _ in range(depth))

    def forward(self, queries: torch.Tensor, context: torch.Tensor,
                windows: Sequence[torch.Tensor]) -> torch.Tensor:
        for layer in self.layers:
            queries = layer(queries, context, windows)
        return queries


def llm_layers(num_layers: int, modules: int = LLM_MODULES, start: int = LLM_START,
               stride: int = LLM_STRIDE) -> list[int]:
    """The decoder layers an in-LLM module follows: ``start``, ``start + stride``, ... for
    ``modules`` modules, stopping at the LLM's last layer (Cambrian-8B: 0, 3, ..., 27)."""
    if modules and start >= num_layers:
        raise HarnessError(f"sva: llm_start={start} is past the LLM's last layer ({num_layers}"
                           f" layers: valid 0 to {num_layers - 1})")
    return list(range(start, num_layers, stride))[:modules]


class SVAConnector(nn.Module):
    """Cambrian-1's SVA (see the module docstring). ``query_side`` is the final ``L x L`` grid
    (every group's by default; ``group_sides`` sets each group's, resized to ``L`` before the
    projector); ``llm_modules`` in-LLM modules follow every ``llm_stride``-th decoder layer
    from ``llm_start`` (``attach_llm``)."""

    in_llm_placement = "after"
    """Its in-LLM modules change a decoder layer's output."""

    def __init__(self, shapes: list[FeatureShape], llm_dim: int, *,
                 query_side: int = QUERY_SIDE, groups: int = GROUPS, depth: int = DEPTH,
                 hidden: int = HIDDEN, heads: int = HEADS, newline: bool = True,
                 llm_modules: int = LLM_MODULES, llm_start: int = LLM_START,
                 llm_stride: int = LLM_STRIDE,
                 group_sides: Sequence[int] | None = None) -> None:
        super().__init__()
        self.shapes, self.llm_dim, self.hidden, self.heads = shapes, llm_dim, hidden, heads
        self.side = query_side
        self.groups_count = groups
        self.group_sides = list(group_sides or [query_side] * groups)
        if len(self.group_sides) != groups:
            raise HarnessError(f"sva: {len(self.group_sides)} group sides for {groups} groups")
        self.newline_tokens = newline
        self.llm_modules, self.llm_start, self.llm_stride = llm_modules, llm_start, llm_stride
        # Each map is resampled to a whole multiple of every grid that windows it, so the
        # windows tile it exactly (Cambrian's towers are interpolated to such sizes).
        sides = {*self.group_sides, query_side}
        self.map_sides = [_common_multiple(max(s.grid), sides) for s in shapes]
        self.encoder_projections = nn.ModuleList(projector(s.dim, hidden) for s in shapes)
        self.queries = nn.Parameter(torch.randn(groups, hidden) / hidden ** 0.5)
        self.samplers = nn.ModuleList(
            Sampler(hidden, hidden, self.window_sides(side), heads, depth)
            for side in self.group_sides)
        self.proj = nn.Sequential(nn.Linear(groups * hidden, llm_dim), nn.GELU(),
                                  nn.Linear(llm_dim, llm_dim))
        self.newline = nn.Parameter(torch.randn(llm_dim) / llm_dim ** 0.5) if newline \
            else None
        self.in_llm = nn.ModuleList()
        self.module_after: dict[int, int] = {}
        self.num_tokens = query_side * (query_side + (1 if newline else 0))

    def window_sides(self, side: int) -> list[int]:
        """Each encoder's window side on an ``side x side`` query grid."""
        return [m // side for m in self.map_sides]

    # -- the connector ---------------------------------------------------------------------

    def project(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Each encoder's tokens on its map grid, projected to width H: ``[B, s_k^2, H]``."""
        return [proj(resample(f, shape.grid, (side, side)))
                for f, shape, proj, side in zip(features, self.shapes,
                                                self.encoder_projections, self.map_sides,
                                                strict=True)]

    def context(self, projected: Sequence[torch.Tensor]) -> torch.Tensor:
        """The global context: encoder 0's mean projected token ``[B, H]``."""
        return projected[0].mean(dim=1)

    def windows(self, projected: Sequence[torch.Tensor], side: int) -> list[torch.Tensor]:
        """Per encoder, every query's window ``[B * side^2, m_k^2, H]`` (row-major queries)."""
        return [windows(to_grid(p, (s, s)), side).flatten(0, 2)
                for p, s in zip(projected, self.map_sides, strict=True)]

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.forward_with_keys(features)[0]

    def forward_with_keys(self, features: Sequence[torch.Tensor]
                          ) -> tuple[torch.Tensor, tuple[torch.Tensor, list[torch.Tensor]]]:
        """The visual tokens ``[B, num_tokens, D]``, and what the in-LLM modules read: the
        global context and the windows on the final grid."""
        projected = self.project(features)
        context = self.context(projected)
        b = context.shape[0]
        grids = []
        for g, (sampler, side) in enumerate(zip(self.samplers, self.group_sides, strict=True)):
            queries = self.queries[g].expand(b * side * side, 1, -1)
            out = sampler(queries, _per_query(context, side * side),
                          self.windows(projected, side)).reshape(b, side * side, -1)
            if side != self.side:
                out = resample(out, (side, side), (self.side, self.side))
            grids.append(out)
        tokens = self.proj(torch.cat(grids, dim=-1))
        if self.newline is not None:
            rows = tokens.reshape(b, self.side, self.side, -1)
            newline = self.newline.to(tokens.dtype).expand(b, self.side, 1, -1)
            tokens = torch.cat([rows, newline], dim=2).flatten(1, 2)
        return tokens, (context, self.windows(projected, self.side))

    # -- in the LLM ------------------------------------------------------------------------

    def attach_llm(self, num_layers: int) -> list[int]:
        """Build the in-LLM modules for an LLM of ``num_layers`` decoder layers; returns the
        layers they follow."""
        chosen = llm_layers(num_layers, self.llm_modules, self.llm_start, self.llm_stride)
        while len(self.in_llm) < len(chosen):
            self.in_llm.append(Sampler(self.llm_dim, self.hidden,
                                       self.window_sides(self.side), self.heads, 1))
        self.module_after = {layer: k for k, layer in enumerate(chosen)}
        return chosen

    def in_llm_layer(self, layer: int, states: torch.Tensor,
                     keys: tuple[torch.Tensor, list[torch.Tensor]]) -> torch.Tensor:
        """The image tokens' hidden states after decoder layer ``layer``, aggregated again
        by the module that follows it."""
        context = keys[0]
        out = self.aggregate_in_llm(self.module_after[layer], states.to(context.dtype), keys)
        return out.to(states.dtype)

    def image_positions(self) -> torch.Tensor:
        """Which of the connector's tokens are image tokens (not newlines): ``[num_tokens]``."""
        keep = torch.ones(self.side, self.side + (1 if self.newline is not None else 0),
                          dtype=torch.bool)
        if self.newline is not None:
            keep[:, -1] = False
        return keep.flatten()

    def aggregate_in_llm(self, module: int, states: torch.Tensor,
                         keys: tuple[torch.Tensor, list[torch.Tensor]]) -> torch.Tensor:
        """In-LLM module ``module`` on the image tokens' hidden states ``[B, L*L, D]``
        (newlines left out): their new values (the module's residual included)."""
        context, windows_ = keys
        b, n, d = states.shape
        out = self.in_llm[module](states.reshape(b * n, 1, d), _per_query(context, n),
                                  windows_)
        return out.reshape(b, n, d)


def _per_query(context: torch.Tensor, queries: int) -> torch.Tensor:
    """``[B, H]`` -> ``[B * queries, 1, H]``."""
    b, h = context.shape
    return context[:, None, None, :].expand(b, queries, 1, h).reshape(b * queries, 1, h)


def _common_multiple(size: int, sides: set[int]) -> int:
    """The multiple of every side in ``sides`` nearest ``size`` (at least one of it)."""
    step = math.lcm(*sides)
    return max(1, round(size / step)) * step
