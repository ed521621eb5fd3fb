"""The README's promises that code can check: the allowed values a plugin author is told."""

from __future__ import annotations

import re
from pathlib import Path

import harness.loaders  # noqa: F401  (registers the loader kinds)
from harness.encoder import ARCHITECTURES, GROUPS, PRECISIONS, SUPERVISIONS
from harness.loaders.registry import LOADERS

README = Path(__file__).resolve().parents[1] / "README.md"


def _allowed_values() -> dict[str, list[str]]:
    section = README.read_text().split("### Add your encoder", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", section, flags=re.MULTILINE)
    # The values are the leading code spans; a parenthesis after them only explains.
    return {field: re.findall(r"`([^`]+)`", values.split("(")[0]) for field, values in rows}


def test_the_plugin_section_lists_exactly_the_allowed_values() -> None:
    allowed = _allowed_values()
    assert allowed["group"] == list(GROUPS)
    assert allowed["supervision"] == list(SUPERVISIONS)
    assert allowed["architecture"] == list(ARCHITECTURES)
    assert allowed["precision"] == list(PRECISIONS)
    assert sorted(allowed["loader"]) == sorted(name for name, _ in LOADERS.items())
