"""Loader kinds: each turns an EncoderSpec into an Encoder (built from a config, weights loaded
from where the spec says). Importing this package registers them."""

from __future__ import annotations

from harness.loaders import timm_models  # noqa: F401
