"""The sizes a cost estimate needs, measured without weights: every encoder, the connector and
the LLM are built on PyTorch's meta device (shapes, no memory) and their parameters counted.
A hub LLM's config must be readable (cached, when offline), as it must for the run itself."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.loaders import build_encoder
from harness.loaders.weights import hub_offline
from harness.model.connector_parts import FeatureShape
from harness.model.connectors import CONNECTORS
from harness.model.llm import LLMSpec, shape_config
from harness.parallel import decoder_layers, find_decoder_layers
from harness.sweep.cost import Sizes


@cache
def encoder_shape(encoder_id: str, tiny: bool) -> tuple[int, int, int, tuple[int, int]]:
    """(parameters, tokens, embedding dim, grid) of one encoder. A tiny twin is built for
    real (it is small, and some loaders move their twins between devices)."""
    spec = ENCODERS.get(encoder_id)
    if tiny:
        encoder = build_encoder(spec, tiny=True, pretrained=False)
    else:
        with torch.device("meta"):
            encoder = build_encoder(spec, tiny=False, pretrained=False)
    return encoder.num_parameters(), encoder.num_tokens, encoder.embed_dim, tuple(encoder.grid)


@cache
class LLMShape(NamedTuple):
    params: int
    layers: int
    hidden: int
    heads: int
    layer_params: int
    """One decoder layer's parameters (an FSDP unit)."""


def llm_shape(spec: LLMSpec) -> LLMShape:
    """The LLM's sizes, from its structure on the meta device."""
    model = llm_skeleton(spec)
    config = model.config
    layers = find_decoder_layers(model) or []
    return LLMShape(params=sum(p.numel() for p in model.parameters()),
                    layers=config.num_hidden_layers, hidden=config.hidden_size,
                    heads=config.num_attention_heads,
                    layer_params=max((sum(p.numel() for p in m.parameters()) for m in layers),
                                     default=0))


@cache
def llm_skeleton(spec: LLMSpec):
    """The LLM built on the meta device from its config: its structure, no weights. Cached:
    a sweep asks once per run (sizes, the FSDP check), always of the same few LLMs."""
    if spec.source is None:  # the tiny LLM, or the shape a GGUF LLM declares
        config = shape_config(spec)
    else:
        try:
            config = AutoConfig.from_pretrained(spec.source, revision=spec.revision,
                                                local_files_only=hub_offline())
        except OSError as exc:
            raise HarnessError(f"LLM {spec.source!r}: no config to size it "
                               f"({str(exc).splitlines()[0]})") from None
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def run_sizes(encoder_ids: list[str], tiny: bool, connector: str, llm: LLMSpec) -> Sizes:
    shapes = [encoder_shape(e, tiny) for e in encoder_ids]
    llm_sizes = llm_shape(llm)
    with torch.device("meta"):
        built = CONNECTORS.get(connector).create(
            [FeatureShape(dim, grid) for _, _, dim, grid in shapes], llm_sizes.hidden)
    return Sizes(encoder_params=sum(s[0] for s in shapes),
                 encoder_param_tokens=sum(s[0] * s[1] for s in shapes),
                 image_tokens=built.num_tokens,
                 cached_values=sum(s[1] * s[2] for s in shapes), llm_params=llm_sizes.params,
                 llm_layers=llm_sizes.layers, llm_hidden=llm_sizes.hidden,
                 llm_heads=llm_sizes.heads, llm_layer_params=llm_sizes.layer_params)


def in_llm_layers(encoder_ids: Sequence[str], tiny: bool, connector: str, llm: LLMSpec
                  ) -> tuple[str, list[int]]:
    """Where a connector's in-LLM modules sit in this LLM: ``("after" | "before", decoder
    layers)``, no layers for a connector without them (what the plan shows)."""
    where, layers = _in_llm_layers(tuple(encoder_ids), tiny, connector, llm)
    return where, list(layers)


@cache
def _in_llm_layers(encoder_ids: tuple[str, ...], tiny: bool, connector: str, llm: LLMSpec
                   ) -> tuple[str, tuple[int, ...]]:
    # Cached: every seed and recipe of a sweep asks the same, and each answer builds the
    # connector (on the meta device).
    shapes = [encoder_shape(e, tiny) for e in encoder_ids]
    llm_sizes = llm_shape(llm)
    with torch.device("meta"):
        built = CONNECTORS.get(connector).create(
            [FeatureShape(dim, grid) for _, _, dim, grid in shapes], llm_sizes.hidden)
        attach = getattr(built, "attach_llm", None)
        chosen = attach(llm_sizes.layers) if attach else []
    return getattr(built, "in_llm_placement", "after"), tuple(chosen)


def check_shardable(connector: str, llm: LLMSpec) -> None:
    """Refuse, before anything trains, an FSDP run whose connector or LLM cannot be sharded:
    a connector that says so (``ConnectorSpec.shardable``), or an LLM without a list of
    decoder layers to make units of (its structure is built on the meta device)."""
    spec = CONNECTORS.get(connector)
    if not spec.shardable:
        valid = ", ".join(sorted(c.base for c in CONNECTORS if c.shardable))
        raise HarnessError(f"distributed fsdp: connector {spec.base!r} cannot be sharded"
                           f" ({spec.shardable_why or 'it says so'}); use distributed ="
                           f" \"ddp\", or a connector that can: {valid}")
    decoder_layers(llm_skeleton(llm))
