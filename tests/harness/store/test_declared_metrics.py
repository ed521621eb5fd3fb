"""The store ranks and averages by what each benchmark declares: its headline metric, its
Table 5 column(s) and its category; the same rule ``harness eval`` prints and the paper uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.record import EncoderInfo, ResultRecord, Score, write_record
from harness.store import Store, ingest_paths, ingest_record
from harness.sweep.evaluation import category_report

# Every number a run scoring Cambrian's suite leaves, with per-question accuracies that differ
# from the headline metrics, so a store that ranked by "accuracy" would give other averages.
SIXTEEN = [
    ("mme", "perception", "overall", 1547.1, 2000.0), ("mme", "accuracy", "overall", 91.0, 100),
    ("mmbench", "circular_accuracy", "overall", 75.9, 100),
    ("mmbench", "accuracy", "overall", 83.0, 100),
    ("seed-image", "accuracy", "overall", 74.7, 100), ("gqa", "accuracy", "overall", 64.6, 100),
    ("scienceqa-img", "accuracy", "overall", 80.4, 100),
    ("mmmu", "accuracy", "overall", 42.7, 100), ("mathvista", "accuracy", "overall", 49.0, 100),
    ("ai2d", "accuracy", "overall", 73.0, 100),
    ("chartqa", "relaxed_accuracy", "overall", 73.3, 100),
    ("ocrbench", "accuracy", "overall", 62.4, 100),
    ("textvqa-ocr", "vqa_accuracy", "overall", 71.7, 100),
    ("textvqa", "vqa_accuracy", "overall", 30.0, 100),  # not Cambrian's template: not counted
    ("docvqa", "anls", "overall", 77.8, 100),
    ("mmvp", "pair_accuracy", "overall", 51.3, 100), ("mmvp", "accuracy", "overall", 68.0, 100),
    ("realworldqa", "accuracy", "overall", 64.2, 100),
    ("cv-bench", "accuracy", "overall", 72.15, 100),
    ("cv-bench", "accuracy", "cvbench:2D", 72.3, 100),
    ("cv-bench", "accuracy", "cvbench:3D", 72.0, 100),
    ("probe", "accuracy", "overall", 99.0, 100),  # vision-centric, but no Table 5 column
]


def record(key: str, rows: list[tuple]) -> ResultRecord:
    return ResultRecord(
        run_key=key, status="done", smoke=False,
        encoder=EncoderInfo("clip-vit-l14-336.openai", "clip", "language", "vit", 336,
                            tiny=False),
        recipe="frozen", llm="llm", connector="mlp2x_gelu", seed=0, preset="full",
        config={"recipe": {"encoder": "frozen", "stages": [{}, {}]}},
        scores=tuple(Score(b, m, s, v, 100, range_min=0.0, range_max=high)
                     for b, m, s, v, high in rows))


def test_store_categories_equal_what_harness_eval_prints(store: Store) -> None:
    run = record("sixteen00001", SIXTEEN)
    ingest_record(store, run)
    [setting] = store.settings()
    printed = {c["category"]: c["average"] for c in category_report(list(run.scores))}
    assert set(printed) == {"General", "Knowledge", "OCR & Chart", "Vision-Centric"}
    assert {c: cell.value for c, cell in setting.categories.items()} == pytest.approx(printed)
    assert all(cell.complete and cell.benchmarks == 4 for cell in setting.categories.values())
    # The paper's Cambrian-1-8B row: General 73.1, Vision-Centric 65.0 (Table 5).
    assert setting.categories["General"].value == pytest.approx(73.1, abs=0.05)
    assert setting.categories["Vision-Centric"].value == pytest.approx(64.95, abs=0.01)
    cells = setting.benchmarks
    assert (cells["mmvp"].metric, cells["mmvp"].value) == ("pair_accuracy", 51.3)
    assert (cells["mmbench"].metric, cells["mme"].metric) == ("circular_accuracy", "perception")


def test_the_probe_never_enters_a_category(store: Store) -> None:
    ingest_record(store, record("probeonly001", [("probe", "accuracy", "overall", 90.0, 100)]))
    [setting] = store.settings()
    assert setting.categories == {} and setting.benchmarks["probe"].value == 90.0
    ingest_record(store, record("probeonly001", [("probe", "accuracy", "overall", 90.0, 100),
                                                 ("mmvp", "pair_accuracy", "overall", 30.0, 100)]))
    [setting] = store.settings()
    vision = setting.categories["Vision-Centric"]
    assert (vision.value, vision.benchmarks, vision.complete) == (30.0, 1, False)


def test_a_value_outside_its_metrics_range_is_refused(store: Store, tmp_path: Path) -> None:
    bad = record("outofrange01", [("mmvp", "pair_accuracy", "overall", 130.0, 100)])
    with pytest.raises(HarnessError, match=r"mmvp/pair_accuracy/overall = 130 is outside its "
                                           r"metric's range 0\.\.100$"):
        ingest_record(store, bad)
    write_record(tmp_path / "bad", bad)
    report = ingest_paths(store, [tmp_path / "bad"])
    assert len(report.errors) == 1 and "\n" not in report.errors[0][1]
    assert store.runs_page()[1] == 0  # nothing half-stored
    points = record("mmepoints01", [("mme", "perception", "overall", 1547.1, 2000.0)])
    assert ingest_record(store, points)  # MME's points are inside MME's range


def test_score_provenance_is_stored_and_read_back(store: Store) -> None:
    score = Score("mmvp", "pair_accuracy", "overall", 51.3, 150, kind="external",
                  scorer="lmms-eval 0.3.0", ci_low=43.3, ci_high=59.3, range_min=0.0,
                  range_max=100.0)
    run = record("external0001", [])
    ingest_record(store, ResultRecord(**{**run.__dict__, "scores": (score,)}))
    [row], _ = store.scores(run_key="external0001")
    assert (row["kind"], row["scorer"], row["ci_low"], row["ci_high"]) == (
        "external", "lmms-eval 0.3.0", 43.3, 59.3)
    for field, value, message in (("kind", "guessed", "valid: measured, published"),
                                  ("ci_low", 60.0, "confidence interval 60..59.3")):
        wrong = ResultRecord(**{**run.__dict__, "scores": (
            Score(**{**score.__dict__, field: value}),)})
        with pytest.raises(HarnessError, match=message):
            ingest_record(store, wrong)
