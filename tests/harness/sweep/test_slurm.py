"""Sweeps on a real SLURM cluster (scripts/ci/start-slurm.sh starts one on 127.0.0.1; .ci/run
does so before pytest): a job array, preemption and requeue, a job killed by scancel, a
second submission that submits nothing, and one run across two tasks (data parallel)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import submitit
from typer.testing import CliRunner

from harness.cli.app import app
from harness.record import read_record
from harness.store import Store
from harness.sweep.cluster import load_cluster
from harness.sweep.status import read_status
from harness.sweep.tracking import read_ticket, view_runs

from .conftest import MINI_PRESET, plan_mini
from .test_driver import Background, _wait_for

pytestmark = pytest.mark.slurm
runner = CliRunner()
ENCODER = "clip-vit-l14-336.openai"


def _cluster_problem() -> str | None:
    if shutil.which("sbatch") is None:
        return "sbatch is not on PATH"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "UP" not in ping.stdout:
        return f"slurmctld does not answer: {(ping.stdout + ping.stderr).strip()[:200]}"
    acct = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, text=True,
                          timeout=30)
    if acct.returncode != 0:
        return f"sacct fails, accounting (slurmdbd) is off: {acct.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    problem = _cluster_problem()
    if problem:
        pytest.skip(f"no SLURM cluster ({problem}); start one with scripts/ci/start-slurm.sh")


@pytest.fixture
def sweep_args(tmp_path: Path, mini_preset: Path):
    # A fresh root per test: SLURM job ids restart at 1 when the cluster's state is wiped,
    # so submitit folders must never be shared between test runs.
    def args(*extra: str, preset: Path = mini_preset, recipes: str = "frozen") -> list[str]:
        return ["sweep", "--encoders", ENCODER, "--recipes", recipes, "--preset", str(preset),
                "--root", str(tmp_path / "root"), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                "--cluster", "local-slurm", *extra]
    return args


@pytest.fixture
def long_preset(tmp_path: Path) -> Path:
    """120 finetune steps: time for SLURM to preempt a job while it trains, even on a fast
    machine where a step takes a few milliseconds."""
    path = tmp_path / "long.toml"
    path.write_text(MINI_PRESET.replace("max_steps = 4", "epochs = 40"))
    return path


@pytest.fixture
def endless_preset(tmp_path: Path) -> Path:
    """Thousands of finetune steps: a job that is cancelled mid-training on any machine,
    however fast; tests that use it never let it finish."""
    path = tmp_path / "endless.toml"
    path.write_text(MINI_PRESET.replace("max_steps = 4", "epochs = 2000"))
    return path


def said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _jobs_submitted(root: Path) -> set[str]:
    return {t.job_id for p in (root / "runs").glob("*") if (t := read_ticket(p))}


def test_a_smoke_sweep_through_slurm_and_a_second_submission_submits_nothing(
        tmp_path: Path, sweep_args) -> None:
    first = runner.invoke(app, sweep_args("--no-wait", recipes="frozen,unfrozen"))
    assert first.exit_code == 0, first.output
    assert "Executor: slurm (partition=debug" in said(first)
    assert "Submitted 2 job(s)" in said(first)
    jobs = _jobs_submitted(tmp_path / "root")
    assert len(jobs) == 2 and all(re.fullmatch(r"\d+_[01]", j) for j in jobs)  # one array

    # Submitted again while the first jobs are in flight: nothing goes out twice.
    again = runner.invoke(app, sweep_args("--no-wait", recipes="frozen,unfrozen"))
    assert again.exit_code == 0, again.output
    assert "0 to run" in said(again) and "2 still in flight" in said(again)
    assert "Submitted 0 job(s)" in said(again)
    assert _jobs_submitted(tmp_path / "root") == jobs

    # A new driver watches the jobs to the end (as after a crash of the first driver).
    watched = runner.invoke(app, sweep_args(recipes="frozen,unfrozen"))
    assert watched.exit_code == 0, watched.output
    assert "2 still in flight from an earlier submission" in said(watched)
    assert "Sweep finished" in said(watched) and "2 done, 0 failed" in said(watched)
    records = [read_record(p.parent) for p in (tmp_path / "root").rglob("record.json")]
    assert sorted(r.job_id for r in records) == sorted(jobs)
    assert all(r.status == "done" and r.smoke for r in records)
    assert len(Store(f"sqlite:///{tmp_path / 'h.db'}").leaderboard(subset="overall")) == 2

    done = runner.invoke(app, sweep_args(recipes="frozen,unfrozen"))
    assert "Nothing new to run: all 2 planned runs already ran" in said(done)
    assert _jobs_submitted(tmp_path / "root") == jobs
    status = json.loads(runner.invoke(app, ["status", "--root", str(tmp_path / "root"),
                                            "--format", "json"]).output)
    assert status["counts"]["done"] == 2


def test_a_preempted_job_is_requeued_resumes_and_lands_one_result(
        tmp_path: Path, sweep_args, long_preset: Path) -> None:
    submitted = runner.invoke(app, sweep_args("--no-wait", preset=long_preset))
    assert submitted.exit_code == 0, submitted.output
    run_dir = next((tmp_path / "root" / "runs").glob("*"))
    ticket = read_ticket(run_dir)
    _wait_for(lambda: (s := read_status(run_dir)) and s["stage"] == "finetune"
              and s["step"] >= 2)
    submitit.SlurmJob(ticket.folder, ticket.job_id)._interrupt()  # as SLURM preempts

    seen = _wait_for(lambda: {v.state for v in view_runs(tmp_path / "root")} & {"preempted"},
                     timeout_s=120, every_s=0.2)
    assert seen == {"preempted"}  # `harness status` shows it between stop and restart
    watched = runner.invoke(app, sweep_args(preset=long_preset))
    assert watched.exit_code == 0, watched.output

    record = read_record(run_dir)
    assert record.status == "done" and record.job_id == ticket.job_id
    assert 2 <= record.train["finetune"]["resumed_at_step"] < 120
    assert record.train["align"]["restored"] is True  # a finished stage is not redone
    assert len(list((tmp_path / "root").rglob("record.json"))) == 1
    assert [r["run_key"] for r in Store(f"sqlite:///{tmp_path / 'h.db'}").runs()] == \
        [run_dir.name]
    log = Path(ticket.folder, f"{ticket.job_id}_0_log.out").read_text()
    assert log.count("Starting with JobEnvironment") == 2 and "Requeued job" in log


def test_a_job_cancelled_outside_harness_is_reported_failed(tmp_path: Path,
                                                          endless_preset: Path) -> None:
    run = plan_mini(tmp_path / "root", endless_preset, recipes=("frozen",))[0]
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    driver = Background(runs=[run], executor="slurm", root=tmp_path / "root", store=store,
                        slurm=load_cluster("local-slurm").slurm)
    status = _wait_for(lambda: read_status(Path(run.run_dir)))
    subprocess.run(["scancel", status["job_id"]], check=True, timeout=30)
    # The driver must give up on the job within a bounded time, never wait forever.
    report = driver.join(180)

    assert report.done == [] and [r.run_key for r in report.failed] == [run.key]
    error = report.failed[0].error
    assert error.startswith(f"job died: job {status['job_id']} CANCELLED"), error
    assert store.runs()[0]["status"] == "failed"
    view = view_runs(tmp_path / "root")[0]
    assert view.state == "failed" and "CANCELLED" in view.error


def test_harness_cancel_stops_a_slurm_job(tmp_path: Path, sweep_args,
                                          endless_preset: Path) -> None:
    assert runner.invoke(app, sweep_args("--no-wait", preset=endless_preset)).exit_code == 0
    run_dir = next((tmp_path / "root" / "runs").glob("*"))
    job_id = read_ticket(run_dir).job_id
    result = runner.invoke(app, ["cancel", "--all", "--root", str(tmp_path / "root")])
    assert result.exit_code == 0 and f"cancelled {run_dir.name} (job {job_id})" in said(result)
    _wait_for(lambda: subprocess.run(["squeue", "-h", "-j", job_id.split("_")[0]],
                                     capture_output=True, text=True).stdout.strip() == "",
              timeout_s=60, every_s=0.5)
    assert "cancelled by harness cancel" in read_record(run_dir).error
    again = runner.invoke(app, sweep_args(preset=endless_preset))
    assert "Nothing new to run" in said(again) and "--rerun-failed" in said(again)


def test_one_run_trains_data_parallel_across_two_tasks(tmp_path: Path, sweep_args) -> None:
    one = runner.invoke(app, sweep_args(recipes="unfrozen"))
    assert one.exit_code == 0, one.output
    single = read_record(next((tmp_path / "root").rglob("record.json")).parent)
    shutil.rmtree(tmp_path / "root")
    two = runner.invoke(app, sweep_args("--tasks-per-node", "2", recipes="unfrozen"))
    assert two.exit_code == 0, two.output
    ddp = read_record(next((tmp_path / "root").rglob("record.json")).parent)

    assert ddp.run_key == single.run_key  # how many processes train is not what is measured
    for stage in ("align", "finetune"):
        assert (single.train[stage]["processes"], ddp.train[stage]["processes"]) == (1, 2)
        # Same global batch, same sample order, gradients averaged over the two tasks.
        for loss in ("first_loss", "final_loss"):
            assert ddp.train[stage][loss] == pytest.approx(single.train[stage][loss],
                                                           rel=1e-4), (stage, loss)
