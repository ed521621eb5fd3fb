"""Cambrian-1's four category averages: the plain mean of a category's four benchmarks, each
on a 0-100 scale, with MME's 2,000-point perception score divided by 20 to get there.

    General        = MME-P, MMBench, SEED-I, GQA
    Knowledge      = ScienceQA-IMG, MMMU-val, MathVista-testmini, AI2D
    OCR & Chart    = ChartQA, OCRBench, TextVQA, DocVQA
    Vision-Centric = MMVP, RealWorldQA, CV-Bench-2D, CV-Bench-3D
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.record import Score

CATEGORIES: dict[str, tuple[str, ...]] = {
    "General": ("MME-P", "MMB", "SEED-I", "GQA"),
    "Knowledge": ("SQA-I", "MMMU-V", "MathVista-M", "AI2D"),
    "OCR & Chart": ("ChartQA", "OCRBench", "TextVQA", "DocVQA"),
    "Vision-Centric": ("MMVP", "RealWorldQA", "CV-Bench-2D", "CV-Bench-3D"),
}


@dataclass(frozen=True)
class Column:
    """Where a Table 5 column's number comes from among our scores."""

    benchmarks: tuple[str, ...]
    """Registry names that fill it, preferred first (TextVQA: Cambrian's OCR template)."""
    metric: str
    subset: str = "overall"
    divisor: float = 1.0
    """What puts the published number on 0-100 (MME-P: 2,000 points / 20)."""


COLUMNS: dict[str, Column] = {
    "MME-P": Column(("mme",), "perception", divisor=20.0),
    "MMB": Column(("mmbench",), "circular_accuracy"),
    "SEED-I": Column(("seed-image",), "accuracy"),
    "GQA": Column(("gqa",), "accuracy"),
    "SQA-I": Column(("scienceqa-img",), "accuracy"),
    "MMMU-V": Column(("mmmu",), "accuracy"),
    "MathVista-M": Column(("mathvista",), "accuracy"),
    "AI2D": Column(("ai2d",), "accuracy"),
    "ChartQA": Column(("chartqa",), "relaxed_accuracy"),
    "OCRBench": Column(("ocrbench",), "accuracy"),
    "TextVQA": Column(("textvqa-ocr", "textvqa"), "vqa_accuracy"),
    "DocVQA": Column(("docvqa",), "anls"),
    "MMVP": Column(("mmvp",), "pair_accuracy"),
    "RealWorldQA": Column(("realworldqa",), "accuracy"),
    "CV-Bench-2D": Column(("cv-bench",), "accuracy", "cvbench:2D"),
    "CV-Bench-3D": Column(("cv-bench",), "accuracy", "cvbench:3D"),
}


def category_averages(published: Mapping[str, float]) -> dict[str, float]:
    """Category averages from per-column numbers on their published scales (MME-P in
    points); a category with a missing column is left out rather than averaged over three."""
    out = {}
    for category, names in CATEGORIES.items():
        if all(n in published for n in names):
            out[category] = sum(published[n] / COLUMNS[n].divisor for n in names) / len(names)
    return out


def columns_from_scores(scores: Iterable[Score], variant: str = "") -> dict[str, float]:
    """Table 5 columns (published scales) from a run's scores; ``variant`` picks a scoring
    mode's metrics (``_loglik``, ``_blind``)."""
    table = {(s.benchmark, s.metric, s.subset): s.value for s in scores}
    out = {}
    for name, col in COLUMNS.items():
        for benchmark in col.benchmarks:
            key = (benchmark, col.metric + variant, col.subset)
            if key in table:
                out[name] = table[key]
                break
    return out


def category_scores(scores: Iterable[Score], variant: str = "") -> list[Score]:
    """The category averages as scores (benchmark ``cambrian``, metric ``category_average``,
    subset the category), for the categories whose four columns are all present."""
    scores = list(scores)
    columns = columns_from_scores(scores, variant)
    return [Score(benchmark="cambrian", metric="category_average" + variant, subset=category,
                  value=value, n=len(CATEGORIES[category]), category=category)
            for category, value in category_averages(columns).items()]
