"""submitit executors, always chosen explicitly (``AutoExecutor`` without a cluster silently
picks SLURM whenever ``srun`` exists), and the submission of jobs that carry runs."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import submitit

from harness.errors import HarnessError
from harness.sweep.cluster import SlurmSettings
from harness.sweep.job import RunJob
from harness.sweep.plan import Run

EXECUTORS = {
    "local": "jobs in subprocesses on this machine, several runs per job by default",
    "debug": "each run inside this process (for debugging; a crash can take the driver down)",
    "slurm": "a job array on a SLURM cluster (settings from --cluster and flags)",
}
_WEEK_MIN = 7 * 24 * 60


def check_executor(kind: str) -> str:
    if kind not in EXECUTORS:
        raise HarnessError(f"unknown executor {kind!r}; valid: {', '.join(EXECUTORS)}")
    return kind


def make_executor(kind: str, folder: Path,
                  slurm: SlurmSettings | None = None) -> submitit.Executor:
    check_executor(kind)
    if kind == "debug":
        return submitit.DebugExecutor(folder=folder)
    if kind == "local":
        executor = submitit.LocalExecutor(folder=folder)
        # submitit's local default kills a job after 5 minutes; a job may run for days.
        executor.update_parameters(timeout_min=_WEEK_MIN)
        return executor
    if shutil.which("sbatch") is None:
        raise HarnessError("--executor slurm needs SLURM's sbatch on PATH (run the driver on a"
                           " login node of the cluster); valid executors here: local, debug")
    settings = slurm or SlurmSettings()
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=settings.max_timeouts)
    executor.update_parameters(**settings.submitit_parameters())
    return executor


def choose_runs_per_job(kind: str, n_runs: int, parallel: int, asked: int | None) -> int:
    """How many runs one job carries. Locally a job costs a process start (importing torch,
    transformers and timm: seconds) and the jobs run ``parallel`` at a time, so by default
    the runs are spread over ``parallel`` jobs; on SLURM each run is its own array task (a run
    is hours of GPU time, and one task per run keeps preemption and accounting per run)."""
    if asked is not None:
        if asked < 1:
            raise HarnessError(f"bad --runs-per-job {asked}: must be at least 1")
        return asked
    if kind == "local":
        return max(1, math.ceil(n_runs / max(1, parallel)))
    return 1


def group_runs(runs: list[Run], per_job: int) -> list[list[Run]]:
    """Runs dealt round-robin into jobs, so each job gets a mix of encoders and recipes (their
    costs differ) and the jobs finish at about the same time."""
    n_jobs = math.ceil(len(runs) / per_job) if runs else 0
    return [runs[i::n_jobs] for i in range(n_jobs)]


def submit_groups(executor: submitit.Executor, groups: list[list[Run]],
                  job: RunJob | None = None) -> list[submitit.Job]:
    """One job per group; on SLURM the groups go out as one job array (``map_array``)."""
    job = job or RunJob()
    if isinstance(executor, submitit.SlurmExecutor):
        return executor.map_array(job, groups)
    return [executor.submit(job, group) for group in groups]
