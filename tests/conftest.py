"""Test-wide settings: never reach for a model hub (a hub call offline takes ~23 s to fail)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
