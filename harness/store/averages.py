"""Cambrian-1's category averages, one rule for published and measured numbers alike.

A category average is the plain mean of the category's four benchmarks, each on a 0-100 scale;
MME-P's 2000-point perception score is divided by 20 first (OCRBench's 1000-point score is
already published divided by 10). Checked against Cambrian-1's Tables 2 and 5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

CATEGORIES: dict[str, tuple[str, ...]] = {
    "General": ("MME-P", "MMB", "SEED-I", "GQA"),
    "Knowledge": ("SQA-I", "MMMU-V", "MathVista-M", "AI2D"),
    "OCR & Chart": ("ChartQA", "OCRBench", "TextVQA", "DocVQA"),
    "Vision-Centric": ("MMVP", "RealWorldQA", "CV-Bench-2D", "CV-Bench-3D"),
}
"""The benchmarks of each category, named as Cambrian-1's tables name them."""

BENCHMARKS_PER_CATEGORY = 4
"""How many benchmarks make a category complete (the paper's four)."""

TO_PERCENT: dict[str, float] = {"MME-P": 1 / 20}
"""Factors that put a published benchmark's score on the 0-100 scale."""

CATEGORY_OF: dict[str, str] = {b: c for c, bs in CATEGORIES.items() for b in bs}


def to_percent(benchmark: str, value: float) -> float:
    """A published benchmark score on the 0-100 scale (MME-P / 20; others as they are)."""
    return value * TO_PERCENT.get(benchmark, 1.0)


def mean(values: Iterable[float]) -> float:
    values = list(values)
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def category_averages(per_benchmark: Mapping[str, float]) -> dict[str, float]:
    """Each complete category's average from published per-benchmark scores (raw scales).

    A category missing any of its four benchmarks is left out rather than averaged over fewer.
    """
    out = {}
    for category, names in CATEGORIES.items():
        if all(n in per_benchmark for n in names):
            out[category] = mean(to_percent(n, per_benchmark[n]) for n in names)
    return out


def overall_average(per_benchmark: Mapping[str, float]) -> float | None:
    """Table 2's "Average": the mean of all sixteen benchmarks on the 0-100 scale."""
    names = [n for names in CATEGORIES.values() for n in names]
    if not all(n in per_benchmark for n in names):
        return None
    return mean(to_percent(n, per_benchmark[n]) for n in names)
