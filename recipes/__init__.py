"""The named training recipes and presets, as TOML files, and their entry points.

A user adds a recipe without touching the package: ``harness sweep --recipe my-recipe.toml``.
"""

from __future__ import annotations

from pathlib import Path

from harness.preset import Preset, load_preset_file
from harness.recipe import Recipe, load_recipe_file

HERE = Path(__file__).parent


def builtin_recipes() -> list[Recipe]:
    return [load_recipe_file(p) for p in sorted(HERE.glob("*.toml"))]


def builtin_presets() -> list[Preset]:
    return [load_preset_file(p) for p in sorted((HERE / "presets").glob("*.toml"))]
