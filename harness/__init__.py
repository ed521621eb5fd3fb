"""Encoder Harness: train the same LLaVA-style MLLM on each image encoder and compare them."""

from __future__ import annotations

__version__ = "0.1.0"
