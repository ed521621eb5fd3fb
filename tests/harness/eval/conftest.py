"""Shared fixtures: the official-layout writers in tests/fixtures/benchmarks/layouts.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).parents[2] / "fixtures" / "benchmarks" / "layouts.py"


def _load():
    spec = importlib.util.spec_from_file_location("benchmark_layouts", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LAYOUTS = _load()


@pytest.fixture
def layouts():
    return LAYOUTS
