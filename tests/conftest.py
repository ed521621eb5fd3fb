"""Test-wide settings: never reach for a model hub (a hub call offline takes ~23 s to fail),
and the real LLM converted once per session for the tests that need it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def smollm2_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A harness cache (``$HARNESS_CACHE``) with SmolLM2-135M-Instruct converted into it: the
    20-second conversion once per test session, shared by every test that needs the real LLM.
    Tests only read it."""
    from harness.model.gguf_llm import converted_folder
    from harness.model.llm import LLMS

    spec = LLMS.get("smollm2-135m-instruct")
    if any(importlib.util.find_spec(n) is None for n in spec.requires):
        pytest.skip("needs the real extra: pip install -e '.[real]'")
    root = tmp_path_factory.mktemp("harness-cache")
    converted_folder(spec, cache=root / "llms")
    return root
