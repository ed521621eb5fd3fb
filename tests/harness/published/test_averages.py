"""Cambrian-1's averages, recomputed: every Table 5 category average and every Table 2
"Average" follows from its own per-benchmark values (MME-P / 20, then a plain mean), to 0.1;
and the store computes a measured run's category averages by the same rule."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from harness.eval.categories import (
    categories,
    category_averages,
    columns,
    overall_average,
    to_percent,
)
from harness.published import read_builtin
from harness.record import EncoderInfo, ResultRecord, Score
from harness.store import Store, ingest_record
from harness.store.published import beside_measured, import_published

ROWS = read_builtin("cambrian-1")


def tables() -> dict[tuple[str, str], dict[tuple[str, str], float]]:
    """(source, subject) -> {(level, name): value} for Tables 2 and 5."""
    out: dict[tuple[str, str], dict[tuple[str, str], float]] = defaultdict(dict)
    for r in ROWS:
        if "Table" in r.source:
            name = r.category if r.level == "category" else r.metric
            out[(r.source, r.subject)][(r.level, name)] = r.value
    return out


TABLES = tables()
TABLE5 = {k: v for k, v in TABLES.items() if "Table 5" in k[0]}
TABLE2 = {k: v for k, v in TABLES.items() if "Table 2" in k[0]}


def per_benchmark(values: dict[tuple[str, str], float]) -> dict[str, float]:
    return {name: v for (level, name), v in values.items() if level == "benchmark"}


def test_the_tables_are_all_there() -> None:
    assert len(TABLE5) == 5 and len(TABLE2) == 6
    for values in TABLES.values():
        assert len(per_benchmark(values)) == 16


@pytest.mark.parametrize("key", sorted(TABLE5), ids=lambda k: k[1])
def test_table5_category_averages(key: tuple[str, str]) -> None:
    values = TABLE5[key]
    computed = category_averages(per_benchmark(values))
    published = {name: v for (level, name), v in values.items() if level == "category"}
    assert set(published) == set(categories()) == set(computed)
    for category, value in published.items():
        assert computed[category] == pytest.approx(value, abs=0.1), category


@pytest.mark.parametrize("key", sorted(TABLE2), ids=lambda k: k[1])
def test_table2_average(key: tuple[str, str]) -> None:
    values = TABLE2[key]
    assert overall_average(per_benchmark(values)) == pytest.approx(values[("average",
                                                                          "Average")], abs=0.1)


def test_the_readme_example() -> None:
    # Cambrian-1-8B General = (1547.1/20 + 75.9 + 74.7 + 64.6) / 4 = 73.1
    assert to_percent("MME-P", 1547.1) == pytest.approx(77.355)
    general = category_averages({"MME-P": 1547.1, "MMB": 75.9, "SEED-I": 74.7, "GQA": 64.6})
    assert general == {"General": pytest.approx(73.14, abs=0.01)}
    assert category_averages({"MMB": 75.9}) == {}  # a partial category is not averaged


def test_the_store_averages_measured_runs_by_the_same_rule(tmp_path: Path) -> None:
    """Table 5's per-benchmark numbers stored as a measured run (each as the benchmark that
    fills its column records it: its headline metric and subset, MME in points) give back the
    published category averages, beside the published ones."""
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    key = next(k for k in TABLE5 if k[1].startswith("Cambrian-1-8B"))
    bench = per_benchmark(TABLE5[key])
    category_of = {b: c for c, bs in categories().items() for b in bs}
    record = ResultRecord(
        run_key="cambrian8b00", status="done", smoke=False,
        encoder=EncoderInfo("clip-vit-l14-336.openai", "clip", "language", "vit", 336,
                            tiny=False),
        recipe="frozen", llm="llama-3-8b", connector="sva", seed=0, preset="full",
        config={"recipe": {"encoder": "frozen", "stages": [{"name": "align"},
                                                           {"name": "finetune"}]}},
        scores=tuple(Score(source.benchmark, source.metric, source.subset, v, 100,
                           category=category_of[name])
                     for name, v in bench.items()
                     for source in columns()[name].sources[:1]),
    )
    ingest_record(store, record)
    [setting] = store.settings()
    for (level, name), value in TABLE5[key].items():
        if level == "category":
            assert setting.categories[name].complete
            assert setting.categories[name].value == pytest.approx(value, abs=0.1)

    # Beside Figure 4's published numbers for the same encoder, with the difference.
    import_published(store, ROWS, "cambrian-1")
    beside = beside_measured(store.published(encoder="clip-vit-l14-336.openai"),
                             store.settings())
    assert {b["category"] for b in beside} == set(categories())
    general = next(b for b in beside if b["category"] == "General")
    assert general["published"] == pytest.approx(66.0056)
    assert general["difference"] == pytest.approx(general["measured"] - 66.0056)
