"""Where a run's time goes: exclusive time per phase (a nested phase is not counted twice), no
cost without a clock, and every finished run's record carrying its breakdown."""

from __future__ import annotations

import time
from pathlib import Path

from harness.phases import OTHER, PHASES, PhaseClock, process_age, running, timed
from harness.record import read_record


def test_a_nested_phase_is_charged_to_itself_not_also_to_the_outer_one() -> None:
    clock = PhaseClock()
    with running(clock):
        with timed("build"):
            time.sleep(0.02)
            with timed("tokenizer"):
                time.sleep(0.03)
        with timed("train"):
            time.sleep(0.01)
    assert 0.02 <= clock.seconds["build"] < 0.03 + 0.02
    assert 0.03 <= clock.seconds["tokenizer"] < 0.03 + 0.02
    assert set(clock.seconds) == {"build", "tokenizer", "train"}
    out = clock.breakdown(wall_seconds=1.0)
    assert list(out) == ["build", "tokenizer", "train", OTHER]
    assert abs(sum(out.values()) - 1.0) < 1e-2


def test_imports_are_kept_but_not_taken_off_the_wall_time() -> None:
    clock = PhaseClock()
    clock.add("import", 5.0)
    with running(clock), timed("eval"):
        pass
    out = clock.breakdown(wall_seconds=2.0)
    assert out["import"] == 5.0 and out[OTHER] > 1.9


def test_without_a_clock_timed_does_nothing() -> None:
    with timed("train"):
        pass  # no clock running: nothing to charge, nothing raised


def test_the_process_age_is_known_here() -> None:
    age = process_age()
    assert age is not None and 0 < age < 24 * 3600


def test_a_finished_run_records_where_its_time_went(finished: Path) -> None:
    record = read_record(finished)
    phases = record.train["phases"]
    assert {"build", "tokenizer", "features", "train", "eval", "save", OTHER} <= set(phases)
    assert set(phases) <= {*PHASES, OTHER}
    inside = sum(v for k, v in phases.items() if k != "import")
    assert abs(inside - record.wall_seconds) < 0.05
    assert phases["train"] > 0 and phases["eval"] > 0
