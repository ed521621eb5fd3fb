"""What connectors share: the shape they are told about each encoder's output, the reshapes
and resizes of token maps (a token list to its grid, a grid resampled, a map cut into
windows), and LLaVA's projection MLP."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class FeatureShape:
    """What a connector needs to know about one encoder's output."""

    dim: int
    grid: tuple[int, int]


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


def windows(maps: torch.Tensor, side: int) -> torch.Tensor:
    """``[B, C, side*m, side*m]`` -> ``[B, side, side, m*m, C]``: query (i, j)'s m x m window."""
    b, c, h, w = maps.shape
    m = h // side
    x = maps.reshape(b, c, side, m, side, m)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, side, side, m * m, c)


def mlp(in_dim: int, out_dim: int, depth: int = 2) -> nn.Sequential:
    """``depth`` linear layers with a GELU between each (LLaVA-1.5's ``mlp2x_gelu``: 2)."""
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    for _ in range(depth - 1):
        layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*layers)
