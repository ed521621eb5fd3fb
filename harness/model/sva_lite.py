"""``sva-lite``: this project's earlier, simplified aggregator, kept under its own name for the
runs trained with it. It is not Cambrian's SVA (``harness.model.sva`` is); the differences are
in the README's connector section.

A learned ``L x L`` query grid (a vector per group plus a learned position and a context
vector: the mean of all encoders' projected tokens) attends, through pre-norm layers shared by
the groups, to each query's windows of every encoder with one key and one value projection.
With ``llm_every=k`` the image tokens' hidden states query their windows again before every
k-th decoder layer from ``llm_start``, the result added to them (output starting at zero).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from harness.errors import HarnessError
from harness.model.connector_parts import FeatureShape, mlp, resample, to_grid, windows


class SVALayer(nn.Module):
    """One aggregation layer: windowed multi-head cross-attention, then an MLP, pre-norm."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise HarnessError(f"sva-lite: hidden dim {dim} is not divisible by heads={heads}")
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


class LiteSVAConnector(nn.Module):
    """The simplified aggregator (module docstring); ``depth`` is the output MLP's number of
    linear layers."""

    in_llm_placement = "before"
    """Its in-LLM re-aggregation changes a decoder layer's input."""

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
            raise HarnessError(f"sva-lite: start={self.llm_start} is past the LLM's last layer"
                               f" ({num_layers} layers: valid start 0 to {num_layers - 1})")
        chosen = list(range(self.llm_start, num_layers, self.llm_every)) if self.llm_every \
            else []
        for index in chosen:
            if str(index) not in self.reaggregation:
                self.reaggregation[str(index)] = LLMReaggregation(self.llm_dim, self.hidden,
                                                                  self.heads)
        return chosen

    def image_positions(self) -> torch.Tensor:
        """Every one of its tokens is an image token."""
        return torch.ones(self.num_tokens, dtype=torch.bool)

    def in_llm_layer(self, layer: int, states: torch.Tensor, keys: torch.Tensor
                     ) -> torch.Tensor:
        """The image tokens' hidden states ``[B, L*L, D]`` before decoder layer ``layer``,
        re-aggregated."""
        return states + self.reaggregation[str(layer)](states.to(keys.dtype), keys).to(
            states.dtype)

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
    """Re-aggregation inside one LLM layer: the image tokens' hidden states query their own
    windows again; the result is added to them. The output projection starts at zero, so
    attaching it changes nothing until training moves it."""

    def __init__(self, llm_dim: int, hidden: int, heads: int) -> None:
        super().__init__()
        self.into = nn.Linear(llm_dim, hidden)
        self.attend = SVALayer(hidden, heads)
        self.out = nn.Linear(hidden, llm_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, states: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return self.out(self.attend(self.into(states), keys))
