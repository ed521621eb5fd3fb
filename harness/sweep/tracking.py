"""Where each run stands: the job ticket a submission leaves in the run folder (``job.json``),
the scheduler's view of that job (SLURM's squeue and sacct, or the local process), and the
state ``harness status`` shows: planned, queued, running, preempted, done or failed.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError
from harness.record import RECORD_FILE, atomic_write_text, read_record
from harness.sweep import local_jobs
from harness.sweep.status import read_status

TICKET_FILE = "job.json"
DEBUG_SILENCE_S = 600.0
"""A debug run (inside its driver) silent for this long is taken for dead."""
Phase = Literal["queued", "running", "preempted", "finished", "dead", "unknown"]
RunStatus = Literal["planned", "queued", "running", "preempted", "done", "failed"]

_SLURM_PHASES: dict[str, Phase] = {
    "PENDING": "queued",
    "RUNNING": "running", "COMPLETING": "running", "CONFIGURING": "running",
    "SIGNALING": "running", "STAGE_OUT": "running", "RESIZING": "running",
    "PREEMPTED": "preempted", "REQUEUED": "preempted", "REQUEUE_HOLD": "preempted",
    "REQUEUE_FED": "preempted", "SUSPENDED": "preempted", "STOPPED": "preempted",
    "COMPLETED": "finished",
    "CANCELLED": "dead", "FAILED": "dead", "TIMEOUT": "dead", "OUT_OF_MEMORY": "dead",
    "NODE_FAIL": "dead", "BOOT_FAIL": "dead", "DEADLINE": "dead", "SPECIAL_EXIT": "dead",
    "REVOKED": "dead",
}


@dataclass(frozen=True)
class Ticket:
    """What the driver knows about the job that carries a run."""

    executor: str
    job_id: str
    folder: str
    """The submitit folder (job scripts, pickles and logs)."""
    submitted_at: str
    runs: tuple[str, ...] = ()
    """Keys of every run the job carries, in the order it runs them."""
    previous_error: str | None = None
    """The error of the attempt before this one (a rerun of a failed run)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ticket:
        return cls(**{**data, "runs": tuple(data.get("runs", ()))})


def write_ticket(run_dir: Path, ticket: Ticket) -> None:
    atomic_write_text(Path(run_dir) / TICKET_FILE, json.dumps(asdict(ticket), indent=2))


def read_ticket(run_dir: Path) -> Ticket | None:
    try:
        return Ticket.from_dict(json.loads((Path(run_dir) / TICKET_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class JobState:
    phase: Phase
    raw: str = ""
    """The scheduler's own word, e.g. ``CANCELLED by 1000`` or ``OUT_OF_MEMORY``."""
    reason: str = ""

    @property
    def alive(self) -> bool:
        return self.phase in ("queued", "running", "preempted", "unknown")

    def describe(self) -> str:
        extra = f" ({self.reason})" if self.reason and self.reason != "None" else ""
        return f"{self.raw or self.phase}{extra}"


# ---------------------------------------------------------------- SLURM
def slurm_phase(raw: str) -> Phase:
    return _SLURM_PHASES.get(raw.split()[0] if raw else "", "unknown")


def expand_job_ids(text: str) -> list[str]:
    """``12_[3-5,7%2]`` (a pending array in squeue/sacct) -> ``12_3 12_4 12_5 12_7``."""
    match = re.fullmatch(r"(\d+)_\[([^\]]+)\]", text)
    if not match:
        return [text]
    base, spec = match.group(1), match.group(2).split("%")[0]
    ids = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        ids += [f"{base}_{i}" for i in range(int(low), int(high or low) + 1)]
    return ids


def parse_queue_lines(text: str) -> dict[str, JobState]:
    """Lines of ``JOBID|STATE|REASON`` (squeue -o "%i|%T|%r", sacct -P -o
    JobID,State,Reason,ExitCode) as states by job id."""
    states: dict[str, JobState] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 2 or not fields[0] or "." in fields[0]:
            continue  # job steps (123.batch) say nothing about the job itself
        raw, reason = fields[1].strip(), fields[2].strip() if len(fields) > 2 else ""
        exit_code = fields[3].strip() if len(fields) > 3 else ""
        if exit_code and exit_code != "0:0" and slurm_phase(raw) == "dead":
            reason = f"{reason}, exit {exit_code}" if reason and reason != "None" else \
                f"exit {exit_code}"
        for job_id in expand_job_ids(fields[0].strip()):
            states[job_id] = JobState(slurm_phase(raw), raw, reason)
    return states


def _run(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def slurm_states(job_ids: list[str]) -> dict[str, JobState]:
    """Live jobs from squeue (it knows a job the moment it is submitted), finished ones from
    sacct (accounting must be on). A job neither knows is missing from the answer."""
    if not job_ids:
        return {}
    bases = sorted({j.split("_")[0] for j in job_ids})
    text = _run(["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", ",".join(bases)])
    if not text:  # squeue refuses the whole list when one id is gone: ask one by one
        text = "\n".join(_run(["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", b]) for b in bases)
    states = parse_queue_lines(text)
    missing = [j for j in job_ids if j not in states]
    if missing:
        found = parse_queue_lines(_run(["sacct", "-X", "-P", "-n", "-o",
                                        "JobID,State,Reason,ExitCode", "-j",
                                        ",".join(sorted({j.split("_")[0] for j in missing}))]))
        states |= {j: found[j] for j in missing if j in found}
    return {j: states[j] for j in job_ids if j in states}


def slurm_cancel(job_ids: list[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], check=False, timeout=60)


# ---------------------------------------------------------------- local processes
def local_state(job_id: str, folder: Path) -> JobState:
    """A local job seen from any process: its controller's pid, and submitit's result file."""
    if local_jobs.is_alive(job_id):
        return JobState("running", "RUNNING")
    if (Path(folder) / f"{job_id}_0_result.pkl").exists():
        return JobState("finished", "FINISHED")
    return JobState("dead", "GONE", "the process ended without a result")


def job_states(tickets: list[Ticket]) -> dict[str, JobState]:
    """The scheduler's state of each ticket's job, by job id (debug jobs have none)."""
    slurm = [t.job_id for t in tickets if t.executor == "slurm"]
    states = slurm_states(sorted(set(slurm))) if slurm else {}
    for t in tickets:
        if t.executor == "local":
            states[t.job_id] = local_state(t.job_id, Path(t.folder))
    return states


def cancel_jobs(tickets: list[Ticket]) -> None:
    slurm_cancel(sorted({t.job_id for t in tickets if t.executor == "slurm"}))
    for job_id in sorted({t.job_id for t in tickets if t.executor == "local"}):
        local_jobs.cancel(job_id)


# ---------------------------------------------------------------- what `harness status` shows
@dataclass(frozen=True)
class RunView:
    key: str
    state: RunStatus
    encoder: str = ""
    recipe: str = ""
    seed: int | None = None
    connector: str = ""
    executor: str = ""
    job_id: str = ""
    stage: str = ""
    step: int | None = None
    total: int | None = None
    error: str | None = None
    run_dir: str = ""


def run_folders(root: Path) -> list[Path]:
    """Every run folder under the root that a sweep planned (it wrote ``config.json``)."""
    runs = Path(root) / "runs"
    return sorted(p.parent for p in runs.glob("*/config.json")) if runs.is_dir() else []


def view_runs(root: Path, states: dict[str, JobState] | None = None) -> list[RunView]:
    """The state of every run under ``root``; asks the scheduler about jobs in flight."""
    folders = run_folders(root)
    tickets = {f: read_ticket(f) for f in folders}
    if states is None:
        live = [t for f, t in tickets.items() if t and not (f / RECORD_FILE).exists()]
        states = job_states(live)
    return [view_run(f, tickets[f], states) for f in folders]


def view_run(folder: Path, ticket: Ticket | None, states: dict[str, JobState]) -> RunView:

    config = _read_json(folder / "config.json") or {}
    status = read_status(folder) or {}
    base = {"key": folder.name, "encoder": config.get("encoder", {}).get("id", ""),
            "recipe": config.get("recipe", {}).get("name", ""), "seed": config.get("seed"),
            "connector": config.get("connector", ""), "run_dir": str(folder),
            "executor": ticket.executor if ticket else "", "job_id": ticket.job_id if ticket
            else ""}
    if not (folder / RECORD_FILE).exists():  # where a finished run stopped is no news
        base |= {"stage": status.get("stage", ""), "step": status.get("step"),
                 "total": status.get("total")}
    if (folder / RECORD_FILE).exists():
        try:
            record = read_record(folder)
        except (OSError, ValueError, HarnessError) as exc:
            return RunView(**base, state="failed", error=f"unreadable record: {exc}")
        return RunView(**{**base, "job_id": record.job_id or base["job_id"]},
                       state="done" if record.status == "done" else "failed",
                       error=record.error)
    if ticket is None:
        return RunView(**base, state="planned")
    previous = ticket.previous_error
    job = states.get(ticket.job_id)
    if job is None:
        if ticket.executor == "debug":  # it runs inside a driver: alive while it reports
            if status and time.time() - status.get("time", 0) < DEBUG_SILENCE_S:
                return RunView(**base, state="running", error=previous)
            return RunView(**base, state="failed", error="the driver running it stopped")
        return RunView(**base, state="queued", error=previous)
    if job.phase == "dead" or job.phase == "finished":
        if str(status.get("job_id", "")) != ticket.job_id:
            # Its job ended before it began this run: a sweep sends it out again (the rule
            # of driver.started_in), so it is not a failure.
            return RunView(**base, state="planned", error=f"job {ticket.job_id} "
                           f"{job.describe()} before starting it; a sweep sends it out again")
        return RunView(**base, state="failed", error=f"job {ticket.job_id} {job.describe()}")
    # The job writes "preempted:..." when it stops and "starting" when it comes back.
    preempted = str(base["stage"]).startswith("preempted")
    if job.phase == "preempted" or preempted:
        return RunView(**base, state="preempted", error=previous)
    if job.phase == "running" and not status:
        # The job runs, but not this run yet (a job carrying several runs).
        return RunView(**base, state="queued", error=previous)
    state: RunStatus = "running" if job.phase == "running" else "queued"
    return RunView(**base, state=state, error=previous)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
