"""A stored run's protocol sensitivity (``harness.eval.protocols``), computed from the
prediction files in its run folder: what the API and the run page show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.protocols import Row, Sensitivity, sensitivity, split_stem
from harness.eval.scoring import SCORER
from harness.store.predictions import check_reachable, read_all_predictions


@dataclass(frozen=True)
class RunProtocols:
    run_key: str
    benchmarks: list[Sensitivity]
    skipped: list[str] = field(default_factory=list)
    """One line per prediction file or benchmark left out, naming it and why."""
    scorer: str = SCORER
    """The reading rule's version here; the ``rule`` column is the grades stored with the
    predictions, current once the run was re-scored (``harness rescore``) under it."""


def run_protocols(run: dict[str, Any]) -> RunProtocols:
    """``run`` as ``Store.run`` returns it; a posted run (no folder) is refused."""
    check_reachable(run)
    names = BENCHMARKS.names()
    files: dict[str, dict[str, list[Row]]] = {}
    skipped = []
    for f in run["prediction_files"]:
        split = split_stem(f["benchmark"], names)
        if split is None:
            skipped.append(f"{f['path']}: not the predictions of a registered benchmark")
            continue
        try:
            rows = read_all_predictions(run, f["benchmark"])
        except (HarnessError, OSError) as exc:
            skipped.append(str(exc))
            continue
        files.setdefault(split[0], {})[split[1]] = rows
    out = []
    for name, by_variant in sorted(files.items()):
        try:
            out += sensitivity(BENCHMARKS.get(name), by_variant)
        # A hand-edited row of the wrong shape fails inside the benchmark's own formula.
        except (HarnessError, TypeError, ValueError, KeyError) as exc:
            skipped.append(f"{name}: {exc}")
    return RunProtocols(run["run_key"], out, skipped)
