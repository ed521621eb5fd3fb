"""The scheduler's answers (squeue and sacct output as SLURM 22.05 prints it) and the state
`harness status` derives from a run folder and its job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.sweep.plan import write_config
from harness.sweep.tracking import (
    JobState,
    Ticket,
    expand_job_ids,
    parse_queue_lines,
    read_ticket,
    view_runs,
    write_ticket,
)

from .conftest import plan_mini

# Captured from the CI cluster: a 4-task array with parallelism 1, one task cancelled.
SACCT = """4_0|CANCELLED by 0|None|0:0
4_1|RUNNING|JobArrayTaskLimit|0:0
4_1.batch|RUNNING||0:0
4_[2-3%1]|PENDING|JobArrayTaskLimit|0:0
7|OUT_OF_MEMORY|None|0:125
8|FAILED|NonZeroExitCode|1:0
9|NODE_FAIL|None|0:0
"""


def test_array_ranges_expand() -> None:
    assert expand_job_ids("4_[2-3%1]") == ["4_2", "4_3"]
    assert expand_job_ids("12_[0,3-4,9]") == ["12_0", "12_3", "12_4", "12_9"]
    assert expand_job_ids("12_5") == ["12_5"] and expand_job_ids("13") == ["13"]


def test_sacct_lines_become_states() -> None:
    states = parse_queue_lines(SACCT)
    assert states["4_0"] == JobState("dead", "CANCELLED by 0", "None")
    assert states["4_1"].phase == "running" and states["4_2"].phase == "queued"
    assert states["4_3"].reason == "JobArrayTaskLimit"
    assert states["7"].describe() == "OUT_OF_MEMORY (exit 0:125)"
    assert states["8"].describe() == "FAILED (NonZeroExitCode, exit 1:0)"
    assert states["9"].phase == "dead" and not states["9"].alive
    assert "4_1.batch" not in states


def test_squeue_lines_become_states() -> None:
    states = parse_queue_lines("11|PENDING|BeginTime\n12_3|RUNNING|None\n13|REQUEUED|None\n")
    assert [states[j].phase for j in ("11", "12_3", "13")] == ["queued", "running",
                                                               "preempted"]


@pytest.fixture
def planned(tmp_path: Path, mini_preset: Path):
    runs = plan_mini(tmp_path / "root", mini_preset, recipes=("frozen", "unfrozen"),
                     seeds=(0, 1, 2))
    for run in runs:
        write_config(run)
    return tmp_path / "root", runs


def _ticket(run, job_id: str, **extra) -> None:
    write_ticket(Path(run.run_dir), Ticket("slurm", job_id, "/tmp/f", "now", (run.key,),
                                           **extra))


def _status(run, stage: str, step: int = 0, total: int = 0, job_id: str = "") -> None:
    (Path(run.run_dir) / "status.json").write_text(
        json.dumps({"stage": stage, "step": step, "total": total, "job_id": job_id}))


def test_every_state_a_run_can_be_in(planned) -> None:
    root, runs = planned
    planned_run, queued, running, preempted, done, dead = runs
    _ticket(queued, "20_0", previous_error="RuntimeError: out of memory")
    _ticket(running, "20_1")
    _status(running, "finetune", 3, 10)
    _ticket(preempted, "20_2")
    _status(preempted, "preempted:finetune step 4")
    _ticket(done, "20_3")
    (Path(done.run_dir) / "record.json").write_text(json.dumps({"status": "done"}))
    _ticket(dead, "21")
    _status(dead, "align", 1, 5, job_id="21")
    states = {"20_0": JobState("queued", "PENDING"), "20_1": JobState("running", "RUNNING"),
              "20_2": JobState("queued", "PENDING", "BeginTime"),
              "21": JobState("dead", "CANCELLED by 0")}
    views = {v.key: v for v in view_runs(root, states)}
    assert views[planned_run.key].state == "planned"
    assert views[queued.key].state == "queued"
    assert views[queued.key].error == "RuntimeError: out of memory"
    assert (views[running.key].state, views[running.key].stage, views[running.key].step,
            views[running.key].job_id) == ("running", "finetune", 3, "20_1")
    assert views[preempted.key].state == "preempted"
    # An unreadable record is a failure to look at, not a crash of `harness status`.
    assert views[done.key].state == "failed" and "unreadable" in views[done.key].error
    assert views[dead.key].state == "failed"
    assert views[dead.key].error == "job 21 CANCELLED by 0"


def _two_runs_in_job_123(runs):
    """The first two runs, both carried by local job 123 in that order."""
    pair = runs[:2]
    for run in pair:
        write_ticket(Path(run.run_dir), Ticket("local", "123", "/tmp/f", "now",
                                               tuple(r.key for r in pair)))
    return pair


def test_a_run_whose_job_died_before_reaching_it_is_not_failed(planned) -> None:
    root, runs = planned
    begun, never_begun = _two_runs_in_job_123(runs)
    _status(begun, "finetune", 2, 9, job_id="123")
    views = {v.key: v for v in view_runs(root, {"123": JobState("dead", "GONE")})}
    assert views[begun.key].state == "failed"
    # The sweep sends it out again (driver.started_in), so status does not call it failed.
    assert views[never_begun.key].state == "planned"
    assert "before starting it" in views[never_begun.key].error


def test_a_job_running_another_run_first_shows_this_one_queued(planned) -> None:
    root, runs = planned
    first, second = _two_runs_in_job_123(runs)
    _status(first, "align", 1, 3)
    views = {v.key: v for v in view_runs(root, {"123": JobState("running", "RUNNING")})}
    assert views[first.key].state == "running" and views[second.key].state == "queued"
    assert read_ticket(Path(second.run_dir)).runs == (first.key, second.key)
