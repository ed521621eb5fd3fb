"""plotly.js from the installed plotly package, and the dashboard's own static files, so the
dashboard needs no CDN and no internet."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from harness.errors import HarnessError


@cache
def plotly_js_path() -> Path:
    path = Path(str(files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():
        raise HarnessError(f"plotly.min.js not found at {path}; reinstall plotly")
    return path


def static_path(name: str) -> Path:
    """The dashboard's own script and stylesheet, shipped as package data."""
    path = Path(str(files("dashboard") / "static" / name))
    if not path.is_file():
        raise HarnessError(f"dashboard asset {name} not found at {path}; reinstall the package")
    return path
