"""How a sweep's command-line inputs are read: comma-separated names, the run root and the
data root. Nothing here imports torch, so a command that only reads runs (``harness status``)
starts in about a second."""

from __future__ import annotations

import os
from pathlib import Path

from harness.sweep.cluster import ClusterProfile

ROOT_ENV = "HARNESS_ROOT"
DEFAULT_ROOT = "harness-runs"
DATA_ENV = "HARNESS_DATA"


def split_names(text: str) -> list[str]:
    """``a, b,,c`` -> ``["a", "b", "c"]``: how every comma-separated flag is read."""
    return [n.strip() for n in text.split(",") if n.strip()]


def run_root(root: Path | None) -> Path:
    """Where runs and data live: --root, else $HARNESS_ROOT, else ./harness-runs."""
    return Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def resolve_data_root(flag: Path | None, profile: ClusterProfile | None) -> Path | None:
    """``--data-root``, else ``$HARNESS_DATA``, else the cluster profile's ``data_root``."""
    if flag is not None:
        return flag.expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    profile_root = profile.data_root if profile else None
    return None if profile_root is None else Path(profile_root).expanduser()
