"""``harness rescore``: stored predictions graded again under today's rules replace a run's
scores in its record and the store; the key stays, and missing predictions count as wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.record import read_record
from harness.store import Store, ingest_paths
from harness.sweep.job import RunJob
from harness.sweep.plan import write_config
from harness.sweep.rescore import rescore_run

from .conftest import plan_mini


@pytest.fixture
def finished(tmp_path: Path, mini_preset: Path) -> Path:
    run = plan_mini(tmp_path / "runs", mini_preset)[0]
    write_config(run)
    assert RunJob(checkpoint_every_s=0).run_one(run) == "done"
    return Path(run.run_dir)


def as_an_old_scorer_left_it(run_dir: Path, drop: int = 0) -> None:
    """Every answer written "(x)" in lower case, graded wrong (the rule before scoring-v2)."""
    path = run_dir / "predictions" / "probe.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row.update(output=f"({row['answer'].lower()})", extracted=None, correct=False,
                   credit=0.0)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[drop:]))


def test_rescore_replaces_the_scores_and_keeps_the_key(finished: Path, tmp_path: Path) -> None:
    as_an_old_scorer_left_it(finished)
    before = read_record(finished)
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    report = rescore_run(finished)
    after = read_record(finished)
    assert after.run_key == before.run_key and after.config == before.config
    overall = next(s for s in after.scores if (s.benchmark, s.metric, s.subset)
                   == ("probe", "accuracy", "overall"))
    assert overall.value == 100.0 and overall.ci_low == overall.ci_high == 100.0
    assert ("probe", "accuracy") in {(b, m) for b, m, _, _ in report.changed}
    assert len({(s.benchmark, s.metric, s.subset) for s in after.scores}) == len(after.scores)
    lines = (finished / "predictions" / "probe.jsonl").read_text().splitlines()
    assert all(json.loads(line)["correct"] for line in lines)  # the file holds the new grades
    ingest_paths(store, [finished])
    [row], _ = store.scores(run_key=after.run_key, benchmark="probe", metric="accuracy",
                            subset="overall")
    assert row["value"] == 100.0 and row["scorer"].startswith("harness scoring-v")


def test_missing_predictions_count_as_wrong(finished: Path) -> None:
    n = len((finished / "predictions" / "probe.jsonl").read_text().splitlines())
    as_an_old_scorer_left_it(finished, drop=3)
    report = rescore_run(finished)
    assert report.missing == {"probe": 3}
    overall = next(s for s in read_record(finished).scores
                   if (s.benchmark, s.metric, s.subset) == ("probe", "accuracy", "overall"))
    assert overall.n == n and overall.value == pytest.approx(100.0 * (n - 3) / n)


def test_the_command_names_a_bad_key_in_one_line(finished: Path, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="only a finished run"):
        rescore_run(tmp_path)
    root = finished.parent.parent
    base = [sys.executable, "-c", "from harness.cli.app import main; main()", "rescore",
            "--root", str(root), "--db", f"sqlite:///{tmp_path / 'h.db'}"]
    bad = subprocess.run([*base, "nokey"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert f"no finished run 'nokey' under {root / 'runs'}; valid: {finished.name}" in bad.stderr
    done = subprocess.run([*base, "--all"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{finished.name}: " in done.stdout and "scores re-scored" in done.stdout
