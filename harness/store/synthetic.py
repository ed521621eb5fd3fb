"""Synthetic result records for load tests, benchmarks and browser tests: many encoders x
recipes x benchmarks x seeds with plausible structure (family and recipe effects, blind-mode
scores), marked as fake everywhere (preset ``synthetic``, host ``synthetic``).

Never mix these into a real store: they exist to measure and exercise the API and dashboard.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from harness.eval.benchmarks import BENCHMARKS as REGISTERED
from harness.record import GROUPS, EncoderInfo, ResultRecord, Score

PRESET = "synthetic"
SUPERVISION = {"clip": "language", "ssl": "self", "convnext": "language", "other": "other"}


@dataclass(frozen=True)
class SyntheticBenchmark:
    name: str
    category: str
    metric: str = "accuracy"
    scale: float = 100.0
    slices: tuple[str, ...] = ()
    """Subsets that fill a Table 5 column of their own (CV-Bench's 2D and 3D)."""


BENCHMARKS: tuple[SyntheticBenchmark, ...] = (
    *(SyntheticBenchmark(b.name, b.category, b.metric, b.scale,
                         tuple(c.subset for c in b.table5 if c.subset != "overall"))
      for b in REGISTERED.in_order() if b.table5),
    SyntheticBenchmark("probe", "Vision-Centric"),
    SyntheticBenchmark("extra-1", ""), SyntheticBenchmark("extra-2", ""),
    SyntheticBenchmark("extra-3", ""),
)
"""The benchmarks that fill Cambrian's Table 5, as declared (headline metric and scale), the
probe, and a few uncategorised ones."""


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
                for bench in BENCHMARKS[:benchmarks]:
                    vision_centric = bench.category == "Vision-Centric"
                    percent = _clip(skill + shape.effect + rng.gauss(0, 1.5)
                                    + (8.0 if group == "ssl" and vision_centric else 0.0))
                    values = {bench.metric: percent}
                    if vision_centric:
                        values[bench.metric + "_blind"] = _clip(percent - 12.0)
                    for metric, value in values.items():
                        scores.append(_score(bench, metric, "overall", value))
                    for i, subset in enumerate(bench.slices):
                        scores.append(_score(bench, bench.metric, subset,
                                             _clip(percent + (-1.0) ** i)))
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


def _score(bench: SyntheticBenchmark, metric: str, subset: str, percent: float) -> Score:
    scale = bench.scale / 100.0
    return Score(bench.name, metric, subset, round(percent * scale, 2), 500,
                 category=bench.category, benchmark_version="1", prompt_hash="p0",
                 dataset_hash="d0", range_min=0.0, range_max=bench.scale)


def _clip(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 2)
