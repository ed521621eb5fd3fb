"""Loader kinds: each turns an EncoderSpec into an Encoder (built from a config, weights loaded
from where the spec says). Importing this package registers them; each imports its library
(timm, open_clip, transformers, diffusers) only when it builds. ``build_encoder`` is the one
way in (``build_fixed_encoder`` where random weights must be the same every time)."""

from __future__ import annotations

from pathlib import Path

import torch

from harness.encoder import Encoder, EncoderSpec, install_hint, missing_requirements
from harness.errors import HarnessError
from harness.loaders import (  # noqa: F401  (each registers its loader kind)
    diffusion,
    files,
    hf_models,
    open_clip_models,
    timm_models,
)
from harness.loaders.registry import LOADERS


def build_encoder(spec: EncoderSpec, *, tiny: bool, resolution: int | None = None,
                  output_grid: tuple[int, int] | None = None,
                  feature_layer: int | None = None, precision: str | None = None,
                  weights_path: str | Path | None = None, pretrained: bool = True) -> Encoder:
    """Build the encoder (or its tiny random-weight twin) through its loader.

    The keyword overrides are applied to the spec first (``EncoderSpec.overridden``), so the
    built encoder's ``spec`` states what it runs. ``weights_path`` points at a weights file or
    folder for this one build; otherwise ``$HARNESS_WEIGHTS_DIR`` and then the hub are used.
    ``pretrained=False`` builds the real architecture with random weights (``encoders show``
    does so on the meta device to count parameters without memory).
    """
    spec = spec.overridden(tiny=tiny, resolution=resolution, output_grid=output_grid,
                           feature_layer=feature_layer, precision=precision)
    missing = missing_requirements(spec)
    if missing:
        raise HarnessError(f"encoder {spec.id!r} needs {', '.join(missing)}, which is not"
                           f" installed: {install_hint(spec)}")
    _, builder = LOADERS.get(spec.loader)
    path = Path(weights_path).expanduser() if weights_path is not None else None
    if path is not None and tiny:
        raise HarnessError("weights_path loads real weights; a tiny twin has random weights"
                           " (drop --tiny or the weights path)")
    return builder(spec, tiny, weights_path=path, pretrained=pretrained)


RANDOM_WEIGHTS_SEED = 0


def build_fixed_encoder(spec: EncoderSpec, *, tiny: bool) -> Encoder:
    """``build_encoder`` with any random weights drawn under seed 0, leaving the caller's
    random state as it was: a tiny twin (or an encoder with random weights) stands in for
    pretrained weights, which no run seed changes, so every sweep run, seed, combination and
    triage measures the same network."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        return build_encoder(spec, tiny=tiny)

