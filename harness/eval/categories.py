"""Cambrian-1's Table 5 and its four category averages, read from the benchmark declarations:
each benchmark names the column(s) it fills (``Benchmark.table5``) and its category, so the
columns, the categories and the rule below exist once, for measured and published numbers alike.

A category average is the plain mean of the category's four columns, each on a 0-100 scale
(MME-P's 2,000-point perception score times 100 / 2,000), checked against Tables 2 and 5.
A benchmark with no Table 5 column (the probe, unpatched MMVP) never enters an average.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from statistics import fmean

from harness.eval.benchmarks import BENCHMARKS
from harness.record import Score

CAMBRIAN = "cambrian"
"""The benchmark name of category averages stored as scores."""
CATEGORY_AVERAGE = "category_average"


@dataclass(frozen=True)
class Source:
    """One benchmark's number that can fill a column: its metric on a subset."""

    benchmark: str
    metric: str
    subset: str
    scale: float
    """The metric's full scale: 100, or MME's 2,000 points."""


@dataclass(frozen=True)
class Column:
    """A Table 5 column: its category and the numbers that fill it, preferred first."""

    name: str
    category: str
    sources: tuple[Source, ...]

    def to_percent(self, value: float) -> float:
        return value * 100.0 / self.sources[0].scale


@cache
def columns() -> dict[str, Column]:
    """Every declared Table 5 column by name, in the paper's order."""
    found: dict[str, list[Source]] = {}
    category: dict[str, str] = {}
    for benchmark in BENCHMARKS.in_order():
        for col in benchmark.table5:
            metric = col.metric or benchmark.metric
            scale = benchmark.scale if metric == benchmark.metric else 100.0
            found.setdefault(col.name, []).append(
                Source(benchmark.name, metric, col.subset, scale))
            category.setdefault(col.name, benchmark.category)
    return {name: Column(name, category[name], tuple(sources))
            for name, sources in found.items()}


@cache
def categories() -> dict[str, tuple[str, ...]]:
    """Each category's columns, in the paper's order (General, Knowledge, OCR & Chart,
    Vision-Centric)."""
    out: dict[str, list[str]] = {}
    for col in columns().values():
        out.setdefault(col.category, []).append(col.name)
    return {c: tuple(names) for c, names in out.items()}


@cache
def suites() -> dict[str, tuple[str, ...]]:
    """Named sets of benchmarks a preset can ask for: ``table5`` (the benchmarks that fill
    Table 5's sixteen columns, each column's preferred one), ``vision-centric`` (those of
    that category) and ``probe``."""
    table5 = tuple(dict.fromkeys(c.sources[0].benchmark for c in columns().values()))
    vision = tuple(dict.fromkeys(c.sources[0].benchmark for c in columns().values()
                                 if c.category == "Vision-Centric"))
    return {"table5": table5, "vision-centric": vision, "probe": ("probe",)}


def category_of(column: str) -> str | None:
    col = columns().get(column)
    return None if col is None else col.category


def to_percent(column: str, value: float) -> float:
    """A column's number (on its published scale) on 0-100."""
    return columns()[column].to_percent(value)


def category_averages(per_column: Mapping[str, float]) -> dict[str, float]:
    """Each complete category's average from per-column numbers on their published scales
    (MME-P in points); a category missing a column is left out rather than averaged over
    fewer."""
    out = {}
    for category, names in categories().items():
        if all(n in per_column for n in names):
            out[category] = fmean(to_percent(n, per_column[n]) for n in names)
    return out


def overall_average(per_column: Mapping[str, float]) -> float | None:
    """Table 2's "Average": the mean of all sixteen columns on the 0-100 scale."""
    names = list(columns())
    if not all(n in per_column for n in names):
        return None
    return fmean(to_percent(n, per_column[n]) for n in names)


def columns_from_values(values: Mapping[tuple[str, str, str], float],
                        variant: str = "") -> dict[str, float]:
    """Table 5 columns (published scales) from ``(benchmark, metric, subset) -> value``;
    ``variant`` picks a scoring mode's metrics (``_loglik``, ``_blind``)."""
    out = {}
    for name, col in columns().items():
        for source in col.sources:
            key = (source.benchmark, source.metric + variant, source.subset)
            if key in values:
                out[name] = values[key]
                break
    return out


def columns_from_scores(scores: Iterable[Score], variant: str = "") -> dict[str, float]:
    """Table 5 columns (published scales) from a run's scores."""
    return columns_from_values({(s.benchmark, s.metric, s.subset): s.value for s in scores},
                               variant)


def category_scores(scores: Iterable[Score], variant: str = "") -> list[Score]:
    """The category averages as scores (benchmark ``cambrian``, metric ``category_average``,
    subset the category), for the categories whose four columns are all present."""
    found = columns_from_scores(scores, variant)
    return [Score(benchmark=CAMBRIAN, metric=CATEGORY_AVERAGE + variant, subset=category,
                  value=value, n=len(categories()[category]), category=category,
                  range_min=0.0, range_max=100.0)
            for category, value in category_averages(found).items()]
