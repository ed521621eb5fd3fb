"""Synthetic result records for load tests, benchmarks and browser tests: many encoders x
recipes x benchmarks x seeds with plausible structure (family and recipe effects, blind-mode
scores), marked as fake everywhere (preset ``synthetic``, host ``synthetic``).

Never mix these into a real store: they exist to measure and exercise the API and dashboard.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from harness.record import GROUPS, EncoderInfo, ResultRecord, Score
from harness.store.averages import CATEGORIES

PRESET = "synthetic"
SUPERVISION = {"clip": "language", "ssl": "self", "convnext": "language", "other": "other"}
BENCHMARKS: tuple[tuple[str, str], ...] = (
    *((b.lower(), c) for c, bs in CATEGORIES.items() for b in bs),
    ("probe", "Vision-Centric"),
    ("extra-1", ""), ("extra-2", ""), ("extra-3", ""),
)
"""(name, category): Cambrian's sixteen, the probe, and a few uncategorised ones."""


@dataclass(frozen=True)
class RecipeShape:
    name: str
    encoder: str
    stages: int
    effect: float


RECIPES = (
    RecipeShape("frozen", "frozen", 2, 0.0),
    RecipeShape("unfrozen", "unfrozen", 2, 2.0),
    RecipeShape("frozen-1stage", "frozen", 1, -1.5),
    RecipeShape("unfrozen-1stage", "unfrozen", 1, 0.5),
    RecipeShape("frozen-long", "frozen", 2, 0.8),
    RecipeShape("unfrozen-long", "unfrozen", 2, 2.6),
)


def synthetic_records(encoders: int = 12, recipes: int = 2, benchmarks: int = 6,
                      seeds: int = 1, smoke_every: int = 0, rng_seed: int = 0
                      ) -> Iterator[ResultRecord]:
    """``encoders x recipes x seeds`` records with ``benchmarks`` overall scores each (plus a
    blind score for vision-centric ones); every ``smoke_every``-th encoder is a smoke twin."""
    if recipes > len(RECIPES) or benchmarks > len(BENCHMARKS):
        raise ValueError(f"at most {len(RECIPES)} recipes and {len(BENCHMARKS)} benchmarks")
    rng = random.Random(rng_seed)
    for e in range(encoders):
        group = GROUPS[e % len(GROUPS)]
        smoke = bool(smoke_every) and e % smoke_every == smoke_every - 1
        skill = rng.uniform(35, 70)
        encoder = EncoderInfo(
            id=f"synthetic-{group}-{e:03d}.fake", group=group,
            supervision=SUPERVISION[group], architecture="convnet" if group == "convnext"
            else "vit", resolution=224 + 112 * (e % 3), tiny=smoke, params=300_000_000 + e,
            loader="synthetic", source="synthetic", distribution="encoder-harness",
            distribution_version="0",
        )
        for shape in RECIPES[:recipes]:
            for seed in range(seeds):
                scores = []
                for name, category in BENCHMARKS[:benchmarks]:
                    vision = 12.0 if category == "Vision-Centric" else 4.0
                    value = _clip(skill + shape.effect + rng.gauss(0, 1.5)
                                  + (8.0 if group == "ssl" and category == "Vision-Centric"
                                     else 0.0))
                    scores.append(Score(name, "accuracy", "overall", value, 500,
                                        category=category, benchmark_version="1",
                                        prompt_hash="p0", dataset_hash="d0"))
                    if category == "Vision-Centric":
                        scores.append(Score(name, "accuracy_blind", "overall",
                                            _clip(value - vision), 500, category=category,
                                            benchmark_version="1", prompt_hash="p0",
                                            dataset_hash="d0"))
                key = f"syn{e:04d}{RECIPES.index(shape)}{seed:02d}"
                yield ResultRecord(
                    run_key=key, status="done", smoke=smoke, encoder=encoder,
                    recipe=shape.name, llm="synthetic-llm", connector="mlp2x_gelu", seed=seed,
                    preset=PRESET,
                    config={"synthetic": True, "seed": seed, "recipe": {
                        "name": shape.name, "encoder": shape.encoder,
                        "stages": [{"name": "align"}, {"name": "finetune"}][2 - shape.stages:]}},
                    scores=tuple(scores), started_at="2025-01-01T00:00:00+00:00",
                    finished_at=f"2025-01-01T{e % 24:02d}:{seed:02d}:00+00:00",
                    wall_seconds=60.0, host="synthetic", code_version="synthetic",
                )


def _clip(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 2)
