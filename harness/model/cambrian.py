"""Cambrian-1's connector checkpoints, both ways: a state dict in the layout of Cambrian's own
checkpoints (``mm_projector.*``, ``mm_projector_aux_<i>.*``, ``vision_sampler_<g>.*``,
``vision_sampler_layers.<j>.*``, ``vision_query``, ``image_newline``, with or without
``model.``) builds and loads the matching ``sva`` connector, and a connector writes it back.

What the tensors do not say takes Cambrian's value: 16 heads, the windows' attention masks all
open (square images).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch

from harness.errors import HarnessError
from harness.model.connector_parts import FeatureShape
from harness.model.sva import SVAConnector

PREFIX = "model."
# (Cambrian's name, ours): module prefixes ({} a number) and whole parameter names.
NAMES = (
    ("vision_sampler_layers.{}.", "in_llm.{}."),
    ("vision_sampler_{}.", "samplers.{}."),
    ("mm_projector_aux_{}.", "encoder_projections.{}."),
    ("mm_projector.", "proj."),
    ("vision_query", "queries"),
    ("image_newline", "newline"),
)


def _rename(name: str, to_ours: bool) -> str | None:
    """``name`` in the other layout, or None when no entry of ``NAMES`` covers it."""
    for cambrian, ours in NAMES:
        source, target = (cambrian, ours) if to_ours else (ours, cambrian)
        pattern = re.escape(source).replace(re.escape("{}"), r"(\d+)")
        match = re.match(pattern if source.endswith(".") else pattern + "$", name)
        if match:
            return target.format(*match.groups()) + name[match.end():]
    return None


def to_harness(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Cambrian's connector keys (a full checkpoint's other keys are left out) as ours."""
    out = {}
    for name, tensor in state.items():
        renamed = _rename(name.removeprefix(PREFIX), to_ours=True)
        if renamed is not None:
            out[renamed] = tensor
    if not out:
        raise HarnessError("no Cambrian connector weights in this state dict (expected keys "
                           "such as mm_projector.0.weight and vision_query)")
    return out


def export_connector_state(connector: SVAConnector, prefix: bool = False
                           ) -> dict[str, torch.Tensor]:
    """The connector's weights in Cambrian's checkpoint layout (``model.`` first with
    ``prefix``)."""
    out = {}
    for name, tensor in connector.state_dict().items():
        renamed = _rename(name, to_ours=False)
        if renamed is None:
            raise HarnessError(f"sva: no Cambrian name for {name!r}")
        out[(PREFIX if prefix else "") + renamed] = tensor
    return out


def connector_from_state(state: Mapping[str, torch.Tensor], shapes: Sequence[FeatureShape],
                         llm_dim: int | None = None) -> SVAConnector:
    """The ``sva`` connector the state dict describes, its weights loaded. Groups, depth,
    widths, the query grids and the in-LLM modules come from the tensors' shapes; ``shapes``
    are the encoders' outputs, in the checkpoint's order."""
    ours = to_harness(state)
    queries = _tensor(ours, "queries")
    groups, hidden = queries.shape
    llm_width = _tensor(ours, "proj.2.weight").shape[0]
    if llm_dim is not None and llm_dim != llm_width:
        raise HarnessError(f"the checkpoint's projector writes width {llm_width}, the LLM "
                           f"takes {llm_dim}")
    encoders = sum(1 for k in ours if re.fullmatch(r"encoder_projections\.\d+\.0\.weight", k))
    if encoders != len(shapes):
        raise HarnessError(f"the checkpoint has {encoders} encoder projections, "
                           f"{len(shapes)} encoder shapes were given")
    for i, shape in enumerate(shapes):
        width = _tensor(ours, f"encoder_projections.{i}.0.weight").shape[1]
        if width != shape.dim:
            raise HarnessError(f"encoder {i}: the checkpoint projects width {width}, the "
                               f"encoder gives {shape.dim}")
    depth = len({k.split(".")[3] for k in ours if k.startswith("samplers.0.layers.")})
    group_sides = [_query_side(ours, f"samplers.{g}.layers.0.", shapes) for g in range(groups)]
    modules = len({k.split(".")[1] for k in ours if k.startswith("in_llm.")})
    side = _query_side(ours, "in_llm.0.layers.0.", shapes) if modules else max(group_sides)
    connector = SVAConnector(list(shapes), llm_width, query_side=side, groups=groups,
                             depth=depth, hidden=hidden, newline="newline" in ours,
                             llm_modules=modules, group_sides=group_sides)
    connector.attach_llm(max(1, modules) * connector.llm_stride)
    # In the checkpoint's precision: loading float64 weights into float32 ones rounds them.
    connector.to(queries.dtype)
    missing, unexpected = connector.load_state_dict(ours, strict=False)
    if missing or unexpected:
        raise HarnessError(f"the checkpoint does not fit the connector it describes: missing "
                           f"{missing[:3]}, unexpected {unexpected[:3]}")
    return connector


def _tensor(state: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    if name not in state:
        raise HarnessError(f"the checkpoint has no {name!r} (Cambrian name "
                           f"{_rename(name, to_ours=False)!r})")
    return state[name]


def _query_side(state: Mapping[str, torch.Tensor], layer: str,
                shapes: Sequence[FeatureShape]) -> int:
    """A layer's query grid side, from the window each encoder's position embedding covers
    (an encoder without one has one-token windows: its grid side is the query side)."""
    found = set()
    for i, shape in enumerate(shapes):
        pos = state.get(f"{layer}pos_embed_{i}")
        window = 1 if pos is None else round(pos.shape[0] ** 0.5)
        found.add(max(1, round(max(shape.grid) / window)))
    if len(found) != 1:
        raise HarnessError(f"the encoders' grids {[s.grid for s in shapes]} do not fit the "
                           f"checkpoint's windows (query sides {sorted(found)})")
    return found.pop()
