"""Training recipes: which stages run, what each trains, at which rate and batch size.

Recipes are TOML files (never executed code). The built-in ones ship in ``recipes/`` and arrive
through the ``harness.recipes`` entry-point group; a user's own file is read with
``load_recipe_file``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.config import from_mapping, read_toml
from harness.errors import HarnessError
from harness.registry import Registry


@dataclass(frozen=True)
class Stage:
    """One training stage: ``align`` trains the connector only; ``finetune`` trains the
    connector and the LLM, and the encoder too when the recipe unfreezes it."""

    name: Literal["align", "finetune"]
    lr: float
    """Peak learning rate of the connector and the LLM."""
    global_batch: int
    """Samples per optimizer step, kept on any hardware by gradient accumulation."""
    epochs: float = 1.0
    samples: int | Literal["all"] | None = None
    """Samples drawn from the stage's data source (Cambrian's 0.5M vs 1.2M adapter data): a
    seeded subsample, refused at plan time when the source has fewer; ``"all"`` (or unset)
    takes everything. The probe is generated at the preset's size, which this caps."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (the smoke preset's way to shrink a recipe)."""
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.global_batch <= 0 or self.epochs <= 0:
            raise HarnessError(f"stage {self.name!r}: lr, global_batch and epochs must be > 0")


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    stages: tuple[Stage, ...]
    version: int = 1
    encoder: Literal["frozen", "unfrozen"] = "frozen"
    encoder_lr: float | None = None
    """Peak learning rate of an unfrozen encoder (its own rate, lower than the LLM's)."""
    max_length: int = 2048
    precision: Literal["bf16", "fp32"] = "bf16"
    max_bad_images: float = 0.01
    """A stage fails when more than this share of its images cannot be read."""

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        if names not in (["finetune"], ["align", "finetune"]):
            raise HarnessError(
                f"recipe {self.name!r}: stages must be [finetune] (one-stage) or"
                f" [align, finetune] (two-stage), got {names}"
            )
        if self.encoder == "unfrozen" and self.encoder_lr is None:
            raise HarnessError(f"recipe {self.name!r}: an unfrozen encoder needs encoder_lr")

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def shrunk(self, stage_overrides: dict[str, dict[str, Any]],
               recipe_overrides: dict[str, Any]) -> Recipe:
        """The same recipe with some fields replaced (how a preset scales a recipe down)."""
        stages = tuple(
            dataclasses.replace(s, **stage_overrides.get(s.name, {})) for s in self.stages
        )
        fields = {"stages": stages, **recipe_overrides}
        if self.encoder == "frozen":
            fields.pop("encoder_lr", None)
        return dataclasses.replace(self, **fields)


def load_recipe_file(path: str | Path) -> Recipe:
    path = Path(path)
    data = read_toml(path)
    stages = [{"name": name, **data.pop(name)} for name in ("align", "finetune") if name in data]
    return from_mapping(Recipe, {**data, "stages": stages}, where=str(path))


RECIPES: Registry[Recipe] = Registry(
    "recipe", "harness.recipes", name_of=lambda r: r.name, item_type=Recipe
)
