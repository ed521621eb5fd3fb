"""The sweep's overall progress: runs done of planned and the time left from the runs so far."""

from __future__ import annotations

import pytest

from harness.cli.sweep_progress import SweepClock, duration


def test_no_estimate_before_the_first_run_ends() -> None:
    clock = SweepClock(total=38, started=100.0)
    assert clock.seconds_left(now=160.0) is None
    assert clock.describe(now=160.0) == "0/38 runs"


def test_the_time_left_is_the_time_per_run_so_far_times_the_runs_left() -> None:
    clock = SweepClock(total=38, started=100.0)
    for _ in range(4):
        clock.finish_one()
    # 4 runs in 40 s: 34 runs left at 10 s each (parallel jobs are inside the 10 s).
    assert clock.seconds_left(now=140.0) == pytest.approx(340.0)
    assert clock.describe(now=140.0) == "4/38 runs, ~6 min left"


def test_a_finished_sweep_claims_no_time_left() -> None:
    clock = SweepClock(total=2, started=0.0)
    clock.finish_one()
    clock.finish_one()
    assert clock.describe(now=30.0) == "2/2 runs"


@pytest.mark.parametrize(("seconds", "said"), [(0.2, "1 s"), (42.4, "42 s"), (89, "89 s"),
                                               (95, "2 min"), (3599, "60 min"),
                                               (9000, "2.5 h")])
def test_durations_are_rounded_as_an_estimate_deserves(seconds: float, said: str) -> None:
    assert duration(seconds) == said
