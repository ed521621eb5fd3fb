"""The driver with the local executor: several runs per job, a job killed outside Python
(as by the out-of-memory killer) loses no run, a preempted job resumes and lands one result,
and `harness status` / `harness cancel` see and stop jobs in flight."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import submitit
from typer.testing import CliRunner

from harness.cli.app import app
from harness.record import read_record
from harness.store import Store
from harness.sweep.driver import cancel_runs, execute_runs
from harness.sweep.plan import write_config
from harness.sweep.status import read_status
from harness.sweep.submit import choose_runs_per_job, group_runs
from harness.sweep.tracking import Ticket, write_ticket

from .conftest import MINI_PRESET, plan_mini

runner = CliRunner()


def test_runs_are_dealt_round_robin_into_jobs() -> None:
    runs = list("abcdefg")
    assert group_runs(runs, 3) == [list("adg"), list("be"), list("cf")]
    assert group_runs(runs, 1) == [[r] for r in runs]
    assert group_runs([], 2) == []
    assert choose_runs_per_job("local", 40, 2, None) == 20
    assert choose_runs_per_job("local", 3, 8, None) == 1
    assert choose_runs_per_job("slurm", 40, 2, None) == 1
    assert choose_runs_per_job("slurm", 40, 2, 4) == 4


def _wait_for(predicate, timeout_s: float = 300.0, every_s: float = 0.05):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s")


class Background:
    """The driver in a thread, so the test can act on its jobs while it watches them."""

    def __init__(self, **kwargs) -> None:
        self.report = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, **kwargs) -> None:
        try:
            self.report = execute_runs(**kwargs)
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def join(self, timeout_s: float):
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"driver still waiting after {timeout_s} s"
        if self.error:
            raise self.error
        return self.report


@pytest.mark.slow
def test_a_killed_job_loses_no_run(tmp_path: Path, mini_preset: Path) -> None:
    first, second = plan_mini(tmp_path / "root", mini_preset, recipes=("frozen",),
                              seeds=(0, 1))
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    driver = Background(runs=[first, second], executor="local", root=tmp_path / "root",
                        store=store, runs_per_job=2)
    status = _wait_for(lambda: read_status(Path(first.run_dir)))
    os.kill(status["pid"], signal.SIGKILL)  # what the out-of-memory killer does
    report = driver.join(300)

    assert len(report.submitted) == 2  # the second run went out again, in its own job
    assert list(report.submitted.values())[0] == [first.key, second.key]
    assert [r.run_key for r in report.failed] == [first.key]
    assert report.failed[0].error.startswith(f"job died: job {status['job_id']} ")
    assert [r.run_key for r in report.done] == [second.key]
    assert {r["run_key"]: r["status"] for r in store.runs()} == {first.key: "failed",
                                                             second.key: "done"}


@pytest.mark.slow
def test_a_preempted_local_job_resumes_and_lands_one_result(tmp_path: Path) -> None:
    preset = tmp_path / "long.toml"
    preset.write_text(MINI_PRESET.replace("max_steps = 4", "epochs = 10"))
    run = plan_mini(tmp_path / "root", preset, recipes=("frozen",))[0]
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    driver = Background(runs=[run], executor="local", root=tmp_path / "root", store=store)
    status = _wait_for(lambda: (s := read_status(Path(run.run_dir)))
                       and s["stage"] == "finetune" and s["step"] >= 2 and s)
    os.kill(status["pid"], signal.SIGUSR2)  # submitit's preemption / time-out signal
    report = driver.join(300)

    assert len(report.submitted) == 1 and [r.run_key for r in report.done] == [run.key]
    record = read_record(Path(run.run_dir))
    finetune = record.train["finetune"]
    assert record.status == "done" and finetune["steps"] == 30
    assert 2 <= finetune["resumed_at_step"] < 30
    assert record.train["align"]["restored"] is True
    assert len(list((tmp_path / "root").rglob("record.json"))) == 1
    assert [r["run_key"] for r in store.runs()] == [run.key]
    log = next((tmp_path / "root" / "submitit").glob("*_0_log.out")).read_text()
    assert "Requeued job" in log


def test_status_and_cancel_of_a_local_job(tmp_path: Path, mini_preset: Path) -> None:
    root = tmp_path / "root"
    run, other = plan_mini(root, mini_preset, recipes=("frozen", "unfrozen"))
    for r in (run, other):
        write_config(r)
    # A stand-in job: any local submitit job that is alive will do for status and cancel.
    folder = root / "submitit"
    job = submitit.LocalExecutor(folder).submit(time.sleep, 120)
    write_ticket(Path(run.run_dir), Ticket("local", job.job_id, str(folder.resolve()), "now",
                                           (run.key,)))
    _wait_for(lambda: job.state == "RUNNING")

    result = runner.invoke(app, ["status", "--root", str(root), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"]["running"] == 0 and data["counts"]["queued"] == 1
    assert data["counts"]["planned"] == 1
    views = {v["key"]: v for v in data["runs"]}
    assert views[run.key]["job_id"] == job.job_id and views[other.key]["state"] == "planned"

    bad = runner.invoke(app, ["cancel", "nope", "--root", str(root)])
    assert bad.exit_code != 0 and "unknown run 'nope'" in str(bad.exception)
    assert cancel_runs(root, [run.key]) == [(run.key, job.job_id)]
    _wait_for(lambda: job.done(), timeout_s=5)  # cancel returns once the controller is gone
    record = read_record(Path(run.run_dir))
    assert record.status == "failed" and "cancelled by harness cancel" in record.error
    again = runner.invoke(app, ["cancel", "--all", "--root", str(root)])
    assert again.exit_code == 0 and "Nothing in flight to cancel" in again.output
    table = runner.invoke(app, ["status", "--root", str(root), "--state", "failed"])
    assert run.key in table.output and "cancelled" in table.output


def test_after_a_full_crash_a_rerun_sends_out_runs_that_never_started(
        tmp_path: Path, mini_preset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Driver and job killed: the run the job had begun fails with the scheduler's reason;
    the one it never reached goes out again (the README's promise), not marked failed."""
    from harness.sweep import driver
    from harness.sweep.status import STATUS_FILE
    from harness.sweep.tracking import JobState

    begun, waiting = plan_mini(tmp_path / "root", mini_preset, recipes=("frozen",),
                               seeds=(0, 1))
    ticket = Ticket("local", "4242", str(tmp_path / "jobs"), "2026-12-06T00:00:00+00:00",
                    runs=(begun.key, waiting.key))
    for run in (begun, waiting):
        write_config(run)
        write_ticket(Path(run.run_dir), ticket)
    (Path(begun.run_dir) / STATUS_FILE).write_text(json.dumps(
        {"stage": "train:align", "step": 1, "total": 3, "job_id": "4242"}))
    # An older attempt's status (another job) does not count as this job starting it.
    (Path(waiting.run_dir) / STATUS_FILE).write_text(json.dumps({"job_id": "1111"}))
    monkeypatch.setattr(driver, "job_states",
                        lambda tickets: {"4242": JobState("dead", "GONE")})
    alive, dead = driver.find_in_flight([begun, waiting])
    assert alive == [] and dead == [begun]
    assert read_record(Path(begun.run_dir)).error.startswith("job died: job 4242 ")
    assert not (Path(waiting.run_dir) / "record.json").exists()
    assert not (Path(waiting.run_dir) / "job.json").exists()  # free to go out again


def test_a_dead_jobs_reason_is_a_line_that_names_a_cause_not_a_warning() -> None:
    from harness.sweep.driver import death_line

    warning = ("[transformers] The new embeddings will be initialized from a multivariate "
               "normal distribution")
    slurm = "slurmstepd: error: *** JOB 4711 ON node07 CANCELLED AT 2026-12-06T06:38:16 ***"
    assert death_line(["starting", slurm, warning]) == slurm
    assert death_line(["Loading weights: 100%", warning]) == ""
    killed = "/bin/sh: line 1: 123 Killed python job.py"
    assert death_line([killed]) == killed
    assert len(death_line(["x" * 500 + " oom-kill"])) == 300
