"""Shared fixtures: the official-layout writers (``harness.data.layouts``)."""

from __future__ import annotations

import pytest

from harness.data import layouts as LAYOUTS  # noqa: N812 (a module, used like a constant)


@pytest.fixture
def layouts():
    return LAYOUTS
