"""Re-scoring, not retraining: a finished run's stored predictions graded again under today's
scoring rules (``harness rescore``). The sweep's scores of each benchmark it evaluated are
replaced in ``record.json`` (the run key stays: what was trained and asked is unchanged), the
predictions file is rewritten with the new grades, and the store follows the record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from harness.data.probes import PROBE_BENCHMARKS
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.bootstrap import replicates_path
from harness.eval.runner import (
    EvalOptions,
    read_predictions,
    regrade,
    score,
    vision_reliance,
    write_predictions,
)
from harness.record import PREDICTIONS_DIR, RECORD_FILE, Score, read_record, write_record
from harness.sweep.execute import benchmark_folder, training_data
from harness.sweep.plan import Run, load_run

RELIANCE = "_vision_reliance"


@dataclass
class Rescored:
    """What re-scoring one run changed."""

    run_key: str
    changed: list[tuple[str, str, float, float]] = field(default_factory=list)
    """(benchmark, metric, before, after) of each overall score whose value moved."""
    missing: dict[str, int] = field(default_factory=dict)
    """Benchmark -> items with no stored prediction (counted wrong)."""
    scores: int = 0


def rescore_run(run_dir: Path) -> Rescored:
    """Grade the run's stored predictions again and replace their scores in its record."""
    run_dir = Path(run_dir)
    if not (run_dir / RECORD_FILE).is_file():
        raise HarnessError(f"{run_dir}: no {RECORD_FILE}; only a finished run can be re-scored")
    record = read_record(run_dir)
    if record.status != "done":
        raise HarnessError(f"run {record.run_key}: status {record.status}; only a finished run "
                           "can be re-scored")
    run = load_run(run_dir)
    report = Rescored(record.run_key)
    fresh: list[Score] = []
    for fingerprint in run.config.benchmarks:
        benchmark = BENCHMARKS.get(fingerprint["name"])
        folder = _benchmark_folder(run, benchmark.name)
        items = benchmark.items(folder)
        dataset_hash = benchmark.dataset_hash(folder)
        for blind in (False, True):
            variant = EvalOptions(blind=blind).variant
            path = run_dir / PREDICTIONS_DIR / f"{benchmark.name}{variant}.jsonl"
            if not path.is_file():
                continue
            predictions, missing = regrade(benchmark, items, read_predictions(path))
            write_predictions(path, predictions)
            if missing:
                report.missing[benchmark.name + variant] = len(missing)
            fresh += score(benchmark, predictions, dataset_hash, variant=variant,
                           replicates_file=replicates_path(path))
    if not fresh:
        raise HarnessError(f"run {record.run_key}: no stored predictions under "
                           f"{run_dir / PREDICTIONS_DIR}")
    blind = [s for s in fresh if s.metric.endswith("_blind")]
    if any(s.metric.endswith(RELIANCE) for s in record.scores) and blind:
        fresh += vision_reliance([s for s in fresh if s not in blind], blind)
    # Every old score of a re-scored (benchmark, pass) goes, "unreadable" included; scores of
    # other passes (harness eval's log-likelihood ones) stay.
    replaced = {(s.benchmark, _pass(s.metric)) for s in fresh}
    before = {(s.benchmark, s.metric, s.subset): s.value for s in record.scores}
    kept = [s for s in record.scores if (s.benchmark, _pass(s.metric)) not in replaced]
    write_record(run_dir, dataclasses.replace(record, scores=tuple(kept + fresh)))
    report.scores = len(fresh)
    report.changed = [(s.benchmark, s.metric, before[k], s.value) for s in fresh
                      if (k := (s.benchmark, s.metric, s.subset)) in before
                      and s.subset == "overall" and before[k] != s.value]
    return report


def _pass(metric: str) -> str:
    """Which evaluation pass a metric comes from: with the image (""), blind, the vision
    reliance computed from both, or another mode (``harness eval --mode loglik``)."""
    for suffix in (RELIANCE, "_loglik_blind", "_loglik", "_blind"):
        if metric.endswith(suffix):
            return suffix
    return ""


def _benchmark_folder(run: Run, name: str) -> Path:
    """Where the run read the benchmark: its generated probe, or the data root's release."""
    probe_root = None if run.config.data is None else Path(run.data_dir)
    folder = benchmark_folder(run, name, probe_root)
    if name in PROBE_BENCHMARKS and not (folder / "test.jsonl").is_file():
        training_data(run)  # the probe is regenerated from its seed, byte for byte
    return folder
