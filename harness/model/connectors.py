"""Connectors: map encoder tokens ``[B, N, C_enc]`` into the LLM's embedding space."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from harness.registry import Registry


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    description: str
    build: Callable[[int, int], nn.Module]
    """``(encoder_dim, llm_dim) -> module``."""


CONNECTORS: Registry[ConnectorSpec] = Registry(
    "connector", "harness.connectors", name_of=lambda c: c.name, item_type=ConnectorSpec
)


def mlp2x_gelu(encoder_dim: int, llm_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(encoder_dim, llm_dim), nn.GELU(), nn.Linear(llm_dim, llm_dim))


CONNECTORS.register(ConnectorSpec(
    "mlp2x_gelu", "LLaVA-1.5: two linear layers with a GELU between", mlp2x_gelu))
