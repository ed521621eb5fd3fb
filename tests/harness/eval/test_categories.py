"""Cambrian's category averages, recomputed from the published per-benchmark numbers of
Table 5 (and Table 2's overall average), must give the published averages to 0.1."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from harness.eval.benchmarks import BENCHMARKS
from harness.eval.categories import (
    categories,
    category_averages,
    category_scores,
    columns,
    columns_from_scores,
)
from harness.record import Score

PUBLISHED = Path("/work/shared/reference/published/cambrian1.csv")


def table(name: str) -> dict[str, dict[str, float]]:
    if not PUBLISHED.exists():
        pytest.skip(f"{PUBLISHED} is not on this machine")
    rows: dict[str, dict[str, float]] = defaultdict(dict)
    with PUBLISHED.open() as fh:
        for row in csv.DictReader(fh):
            if name in row["source"]:
                rows[row["subject"]][row["metric"]] = float(row["value"])
    return rows


# The tables print each benchmark rounded to 0.1 and average the unrounded numbers, so a
# recomputed average may be off by up to ~0.09 (Cambrian-1-34B General: 76.74 vs 76.8).
TOLERANCE = 0.1


def test_table5_category_averages_recomputed() -> None:
    models = table("Table 5")
    assert len(models) == 5
    for model, values in models.items():
        averages = category_averages(values)
        assert set(averages) == set(categories()), model
        for category, value in averages.items():
            assert value == pytest.approx(values[category], abs=TOLERANCE), (model, category)


def test_table2_average_is_the_mean_of_all_sixteen() -> None:
    ensembles = table("Table 2")
    assert len(ensembles) == 6
    for name, values in ensembles.items():
        averages = category_averages(values)
        assert len(averages) == 4
        assert sum(averages.values()) / 4 == pytest.approx(values["Average"], abs=TOLERANCE), name


def test_a_category_with_a_missing_benchmark_is_not_averaged() -> None:
    values = {"MMVP": 50.0, "RealWorldQA": 60.0, "CV-Bench-2D": 70.0}
    assert category_averages(values) == {}


def test_the_declarations_give_table5s_sixteen_columns_in_its_order() -> None:
    assert categories() == {
        "General": ("MME-P", "MMB", "SEED-I", "GQA"),
        "Knowledge": ("SQA-I", "MMMU-V", "MathVista-M", "AI2D"),
        "OCR & Chart": ("ChartQA", "OCRBench", "TextVQA", "DocVQA"),
        "Vision-Centric": ("MMVP", "RealWorldQA", "CV-Bench-2D", "CV-Bench-3D"),
    }
    for name, column in columns().items():
        for source in column.sources:
            assert name in [c.name for c in BENCHMARKS.get(source.benchmark).table5]
    assert "probe" not in {s.benchmark for c in columns().values() for s in c.sources}
    assert columns()["MME-P"].to_percent(2000.0) == 100.0


def score(benchmark: str, metric: str, value: float, subset: str = "overall") -> Score:
    return Score(benchmark=benchmark, metric=metric, subset=subset, value=value, n=1)


def test_category_scores_from_run_scores() -> None:
    scores = [score("mmvp", "pair_accuracy", 51.3), score("mmvp", "accuracy", 60.0),
              score("realworldqa", "accuracy", 64.2),
              score("cv-bench", "accuracy", 72.3, "cvbench:2D"),
              score("cv-bench", "accuracy", 72.0, "cvbench:3D"),
              score("cv-bench", "accuracy", 72.15),
              score("mme", "perception", 1547.1), score("mmbench", "circular_accuracy", 75.9),
              score("seed-image", "accuracy", 74.7), score("gqa", "accuracy", 64.6),
              score("textvqa", "vqa_accuracy", 10.0)]
    assert columns_from_scores(scores)["MMVP"] == 51.3  # pair accuracy, not per question
    [general, vision] = sorted(category_scores(scores), key=lambda s: s.subset)
    assert (general.subset, round(general.value, 1)) == ("General", 73.1)
    assert (vision.subset, round(vision.value, 1)) == ("Vision-Centric", 65.0)
    assert vision.benchmark == "cambrian" and vision.metric == "category_average"


def test_textvqa_prefers_cambrians_ocr_template() -> None:
    scores = [score("textvqa", "vqa_accuracy", 60.0), score("textvqa-ocr", "vqa_accuracy", 70.0)]
    assert columns_from_scores(scores)["TextVQA"] == 70.0
    blind = [score("textvqa", "vqa_accuracy_blind", 20.0)]
    assert columns_from_scores(blind, "_blind")["TextVQA"] == 20.0
