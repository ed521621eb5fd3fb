"""The preset's blind_eval switch: each benchmark is scored again with no image, so a sweep's
own runs carry the vision reliance the Benchmarks page shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli.sweep_progress import outcome_line
from harness.record import PREDICTIONS_DIR, read_record
from harness.store import Store, ingest_paths
from harness.sweep.job import RunJob

from .conftest import MINI_PRESET, plan_mini


@pytest.fixture
def blind_preset(tmp_path: Path) -> Path:
    path = tmp_path / "blind.toml"
    path.write_text(MINI_PRESET.replace("eval_batch = 6\n", "eval_batch = 6\nblind_eval = true\n"))
    return path


def test_a_run_scores_each_benchmark_with_and_without_the_image(
        tmp_path: Path, mini_preset: Path, blind_preset: Path) -> None:
    plain = plan_mini(tmp_path / "plain", mini_preset, recipes=("frozen",))[0]
    [run] = plan_mini(tmp_path / "root", blind_preset, recipes=("frozen",))
    assert run.blind_eval and run.key == plain.key  # the same model, the same with-image scores
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"

    record = read_record(Path(run.run_dir))
    metrics = {(s.benchmark, s.metric) for s in record.scores if s.subset == "overall"}
    assert metrics == {("probe", "accuracy"), ("probe", "accuracy_blind")}
    blind = [s for s in record.scores if s.metric == "accuracy_blind"]
    # Every subset the with-image pass reports, the blind pass reports too.
    assert {s.subset for s in blind} == {s.subset for s in record.scores
                                         if s.metric == "accuracy"}
    predictions = Path(run.run_dir) / PREDICTIONS_DIR
    assert sorted(p.name for p in predictions.glob("*.jsonl")) == ["probe.jsonl",
                                                                    "probe_blind.jsonl"]

    # The sweep's summary names the metric once a benchmark has two.
    line = outcome_line(run, record)
    assert "probe accuracy " in line and "probe accuracy_blind " in line

    store = Store(f"sqlite:///{tmp_path / 'harness.db'}")
    ingest_paths(store, [Path(run.run_dir)])
    [setting] = store.settings()
    cell = setting.benchmarks["probe"]
    by_metric = {s.metric: s.value for s in record.scores if s.subset == "overall"}
    assert cell.blind == by_metric["accuracy_blind"]
    assert cell.vision_gap == pytest.approx(by_metric["accuracy"] - by_metric["accuracy_blind"])
    store.dispose()
