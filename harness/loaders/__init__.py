"""Loader kinds: each turns an EncoderSpec into an Encoder (built from a config, weights loaded
from where the spec says). Importing this package registers them; each imports its library
(timm, open_clip, transformers, diffusers) only when it builds."""

from __future__ import annotations

from harness.loaders import (  # noqa: F401
    diffusion,
    files,
    hf_models,
    open_clip_models,
    timm_models,
)
