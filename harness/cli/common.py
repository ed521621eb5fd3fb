"""Helpers shared by the commands: name lists, output formats, the run root."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.errors import HarnessError

FORMATS = ("table", "json")
ROOT_ENV = "HARNESS_ROOT"
DEFAULT_ROOT = "harness-runs"

console = Console()
err_console = Console(stderr=True)


def run_root(root: Path | None) -> Path:
    """Where runs and data live: --root, else $HARNESS_ROOT, else ./harness-runs."""
    return Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HarnessError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return fmt


def split_names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def print_json(data: Any) -> None:
    # Plain print, not rich: scripts parse this, so no wrapping or colour codes.
    print(json.dumps(data, indent=2, default=str))
