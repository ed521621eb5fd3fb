"""The sweep driver: submit planned runs as jobs, watch the jobs and the run folders, ingest
each record into the store as it lands, and report failures, including jobs that died outside
Python (scancel, out-of-memory kill, node failure) with the scheduler's reason.

The run folders are the driver's memory: each submission leaves a ticket (``job.json``) in its
runs' folders, so a driver that crashed is replaced by running the same sweep again: runs
whose jobs are still alive are watched, not submitted twice.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from submitit.core.utils import JobPaths

from harness.data.probes import write_probes
from harness.errors import HarnessError
from harness.record import RECORD_FILE, ResultRecord, read_record
from harness.store import Store, ingest_paths
from harness.sweep.cluster import SlurmSettings
from harness.sweep.job import ERROR_LOG, RunJob
from harness.sweep.plan import Run, load_run, write_config
from harness.sweep.run_record import failed_record
from harness.sweep.status import STATUS_FILE, read_status
from harness.sweep.submit import (
    check_executor,
    choose_runs_per_job,
    group_runs,
    make_executor,
    submit_groups,
)
from harness.sweep.tracking import (
    TICKET_FILE,
    JobState,
    Ticket,
    cancel_jobs,
    job_states,
    now_iso,
    read_ticket,
    slurm_states,
    view_runs,
    write_ticket,
)

# Called as (run, event, record); events: "submitted", "finished".
Listener = Callable[[Run, str, ResultRecord | None], None]

# How often the scheduler is asked about jobs (sacct and squeue are not free on a big cluster).
CHECK_EVERY_S = {"slurm": 5.0, "local": 0.5, "debug": 0.0}
# How long a job may look dead before its runs without a record are failed: a record written
# just before the job ended may take a moment to show up on a network file system.
GRACE_S = {"slurm": 10.0, "local": 2.0, "debug": 0.0}
# How often run folders are looked at for new records (on SLURM: a network file system).
POLL_S = {"slurm": 2.0, "local": 0.25, "debug": 0.0}
# A job the scheduler has never heard of (lost submission, purged accounting) is given up on.
UNKNOWN_LIMIT_S = 300.0


@dataclass
class SweepReport:
    done: list[ResultRecord] = field(default_factory=list)
    failed: list[ResultRecord] = field(default_factory=list)
    submitted: dict[str, list[str]] = field(default_factory=dict)
    """Job id -> keys of the runs it carries, for every job this driver submitted."""
    seconds: float = 0.0


@dataclass
class Flight:
    """A job in flight and the runs it carries that have no record yet."""

    ticket: Ticket
    runs: list[Run]
    job: object | None = None
    """The submitit job, when this driver submitted it (None when attached to an earlier
    driver's job)."""
    left: dict[str, Run] = field(default_factory=dict)
    dead_since: float | None = None
    unknown_since: float | None = None

    def __post_init__(self) -> None:
        self.left = {r.key: r for r in self.runs}


def prepare_data(runs: list[Run]) -> None:
    """Write each run's probes once, before any job starts, so parallel jobs never race on
    them (runs on data-root sources read what is there)."""
    probes = {r.data_dir: r.config.data for r in runs if r.config.data is not None}
    for data_dir, data in probes.items():
        write_probes(Path(data_dir), data)


def reset_run(run: Run) -> str | None:
    """Clear what an earlier attempt left (its failed record, status, error log) before a
    submission; checkpoints stay, so a retried run resumes from its finished stages. Returns
    the earlier error, kept in the new ticket for ``harness status``."""
    run_dir = Path(run.run_dir)
    write_config(run)
    previous = None
    if (run_dir / RECORD_FILE).exists():
        try:
            previous = read_record(run_dir).error
        except (OSError, ValueError):
            previous = "unreadable record"
    for name in (RECORD_FILE, STATUS_FILE, ERROR_LOG):
        (run_dir / name).unlink(missing_ok=True)
    return previous


class Driver:
    """Submits groups of runs, keeps at most ``parallel`` local jobs in flight, and turns
    records and job states into listener events and a report."""

    def __init__(self, *, executor: str, root: Path, store: Store, parallel: int,
                 per_job: int, listener: Listener | None, slurm: SlurmSettings | None,
                 job: RunJob | None, poll_s: float) -> None:
        self.kind = executor
        self.root = root
        self.store = store
        self.parallel = parallel
        self.per_job = per_job
        self.listener = listener
        self.job = job or RunJob()
        self.poll_s = poll_s
        # Absolute: `harness status` and later drivers may run from another directory.
        self.folder = (root / "submitit").resolve()
        self.submitter = None if executor == "debug" else make_executor(executor, self.folder,
                                                                        slurm)
        self.flights: list[Flight] = []
        self.queue: deque[list[Run]] = deque()
        self.previous: dict[str, str | None] = {}
        self.attempts: dict[str, int] = {}
        self.report = SweepReport()
        self._states: dict[str, JobState] = {}
        self._checked_at = float("-inf")
        self._debug_ids = 0

    # ---- submission
    def launch(self, groups: list[list[Run]]) -> None:
        if not groups:
            return
        if self.submitter is None:  # debug: runs inside this process, see step()
            for group in groups:
                self._debug_ids += 1
                self._track(f"debug-{self._debug_ids}", group, None)
            return
        jobs = submit_groups(self.submitter, groups, self.job)
        for group, job in zip(groups, jobs, strict=True):
            self._track(str(job.job_id), group, job)

    def _track(self, job_id: str, group: list[Run], job: object | None) -> None:
        ticket = Ticket(executor=self.kind, job_id=job_id, folder=str(self.folder),
                        submitted_at=now_iso(), runs=tuple(r.key for r in group))
        for run in group:
            self.attempts[run.key] = self.attempts.get(run.key, 0) + 1
            write_ticket(Path(run.run_dir), Ticket(**{**ticket.__dict__,
                                                      "previous_error":
                                                      self.previous.get(run.key)}))
            if self.listener:
                self.listener(run, "submitted", None)
        self.flights.append(Flight(ticket, group, job))
        self.report.submitted[job_id] = list(ticket.runs)

    def attach(self, in_flight: list[tuple[Run, Ticket]]) -> None:
        """Watch jobs an earlier driver submitted (their runs are not submitted again)."""
        by_job: dict[str, tuple[Ticket, list[Run]]] = {}
        for run, ticket in in_flight:
            by_job.setdefault(ticket.job_id, (ticket, []))[1].append(run)
        for ticket, runs in by_job.values():
            self.flights.append(Flight(ticket, runs))

    def fill(self) -> None:
        """Submit queued groups: all of them on SLURM (the array's parallelism limits what
        runs), else up to ``parallel`` jobs at once."""
        if self.kind == "slurm":
            groups = list(self.queue)
            self.queue.clear()
            self.launch(groups)
            return
        while self.queue and len(self.flights) < self.parallel:
            self.launch([self.queue.popleft()])

    # ---- watching
    def step(self) -> None:
        if self.kind == "debug":
            for flight in [f for f in self.flights if f.ticket.executor == "debug" and f.left]:
                self.job(list(flight.left.values()))
                break  # one job per step, so records are reported as they land
        for flight in list(self.flights):
            self._collect(flight)
            if not flight.left:
                self.flights.remove(flight)
        self._check_jobs()

    def _collect(self, flight: Flight) -> None:
        for key, run in list(flight.left.items()):
            if (Path(run.run_dir) / RECORD_FILE).exists():
                try:
                    record = read_record(Path(run.run_dir))
                except (OSError, ValueError):
                    continue  # being replaced right now: read it on the next poll
                del flight.left[key]
                self._finished(run, record)

    def _finished(self, run: Run, record: ResultRecord) -> None:
        (self.report.done if record.status == "done" else self.report.failed).append(record)
        ingest_paths(self.store, [Path(run.run_dir)])
        if self.listener:
            self.listener(run, "finished", record)

    def _check_jobs(self) -> None:
        now = time.monotonic()
        if not self.flights or now - self._checked_at < CHECK_EVERY_S[self.kind]:
            return
        self._checked_at = now
        self._states = self._query([f for f in self.flights if f.left])
        for flight in list(self.flights):
            if not flight.left:
                continue
            state = self._states.get(flight.ticket.job_id)
            if state is None or state.phase == "unknown":
                flight.unknown_since = flight.unknown_since or now
                if now - flight.unknown_since < UNKNOWN_LIMIT_S:
                    continue
                state = JobState("dead", "UNKNOWN", f"the scheduler has no record of job"
                                 f" {flight.ticket.job_id}")
            flight.unknown_since = None
            if state.alive:
                flight.dead_since = None
                continue
            flight.dead_since = flight.dead_since or now
            if now - flight.dead_since >= GRACE_S[self.kind]:
                self._collect(flight)  # a last look before giving up on its runs
                self._bury(flight, state)

    def _query(self, flights: list[Flight]) -> dict[str, JobState]:
        states: dict[str, JobState] = {}
        slurm = [f.ticket.job_id for f in flights if f.ticket.executor == "slurm"]
        if slurm:
            states |= slurm_states(slurm)
        for f in flights:
            if f.ticket.executor == "local":
                states[f.ticket.job_id] = (_local_job_state(f.job) if f.job is not None
                                           else job_states([f.ticket])[f.ticket.job_id])
            elif f.ticket.executor == "debug":
                # Ran to its end in step(); what is left there never wrote a record.
                states[f.ticket.job_id] = JobState("finished", "FINISHED")
        return states

    def _bury(self, flight: Flight, state: JobState) -> None:
        """Fail the runs a dead job left without a record; a run it never started goes out
        again once (its job died of another run), unless the job was cancelled."""
        self.flights.remove(flight)
        reason = f"job {flight.ticket.job_id} {state.describe()}"
        tail = _log_tail(flight)
        if tail:
            reason += f": {tail}"
        cancelled = state.raw.startswith("CANCELLED")
        retry = []
        for run in flight.left.values():
            started = read_status(Path(run.run_dir)) is not None
            if not started and not cancelled and self.attempts.get(run.key, 1) < 2:
                retry.append(run)
                continue
            record = failed_record(run, f"job died: {reason}", job_id=flight.ticket.job_id)
            self._finished(run, record)
        flight.left.clear()
        if retry:
            self.queue.extendleft(reversed(group_runs(retry, self.per_job)))

    def run(self, wait: bool) -> SweepReport:
        started = time.perf_counter()
        self.fill()
        while wait and (self.flights or self.queue):
            self.step()
            self.fill()
            if self.flights and self.kind != "debug":
                time.sleep(self.poll_s)
        self.report.seconds = time.perf_counter() - started
        return self.report


def execute_runs(runs: list[Run], *, executor: str, root: Path, store: Store,
                 parallel: int | None = None, listener: Listener | None = None,
                 slurm: SlurmSettings | None = None, runs_per_job: int | None = None,
                 in_flight: list[tuple[Run, Ticket]] | None = None, wait: bool = True,
                 job: RunJob | None = None, poll_s: float | None = None) -> SweepReport:
    """Run ``runs`` (and watch ``in_flight`` runs an earlier driver submitted); every record
    is ingested as it lands. Without ``wait`` it returns once everything is submitted."""
    check_executor(executor)
    in_flight = in_flight or []
    prepare_data(runs + [r for r, _ in in_flight])
    parallel = max(1, parallel or 1)
    per_job = choose_runs_per_job(executor, len(runs), parallel, runs_per_job)
    driver = Driver(executor=executor, root=root, store=store, parallel=parallel,
                    per_job=per_job, listener=listener, slurm=slurm, job=job,
                    poll_s=POLL_S[executor] if poll_s is None else poll_s)
    for run in runs:
        driver.previous[run.key] = reset_run(run)
    driver.queue.extend(group_runs(runs, per_job))
    driver.attach(in_flight)
    return driver.run(wait)


def find_in_flight(runs: list[Run]) -> tuple[list[tuple[Run, Ticket]], list[Run]]:
    """Split runs without a record into those whose job is still alive (watch them) and those
    whose job is gone: a run that started in it gets a failed record here, with the
    scheduler's reason; one its job never reached loses the ticket and goes out again."""
    waiting = [(r, t) for r in runs if r.state == "new"
               and (t := read_ticket(Path(r.run_dir))) is not None and t.executor != "debug"]
    states = job_states([t for _, t in waiting])
    alive, dead = [], []
    for run, ticket in waiting:
        state = states.get(ticket.job_id)
        if state is None or state.alive:
            alive.append((run, ticket))
            continue
        if (Path(run.run_dir) / RECORD_FILE).exists():
            continue  # it finished between planning and now
        if not started_in(run, ticket):
            (Path(run.run_dir) / TICKET_FILE).unlink(missing_ok=True)
            continue
        failed_record(run, f"job died: job {ticket.job_id} {state.describe()}",
                      job_id=ticket.job_id)
        dead.append(run)
    return alive, dead


def started_in(run: Run, ticket: Ticket) -> bool:
    """Whether the job of ``ticket`` began this run: its status file is that job's."""
    status = read_status(Path(run.run_dir))
    return status is not None and str(status.get("job_id", "")) == ticket.job_id


def _local_job_state(job) -> JobState:
    info = job.get_info().get("jobState", "")
    if info == "RUNNING":
        return JobState("running", "RUNNING")
    if info == "FINISHED" and job.paths.result_pickle.exists():
        return JobState("finished", "FINISHED")
    return JobState("dead", info or "GONE", _job_error(job))


def _job_error(job) -> str:
    try:
        job.result()
    except Exception as exc:  # submitit re-raises whatever ended the job
        return f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    return ""


def _log_tail(flight: Flight) -> str:
    """Why the job's stderr says it ended: SLURM's own 'CANCELLED AT' or 'oom-kill' message
    lands there. Only a line that reads like a cause: a library's warning printed before the
    job was killed is not the reason it died."""
    path = JobPaths(flight.ticket.folder, flight.ticket.job_id).stderr
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()
                 if ln.strip()]
    except OSError:
        return ""
    return death_line(lines)


_CAUSE = re.compile(r"error|exception|traceback|killed|cancelled|oom|out of memory|signal|"
                    r"terminated|time limit|preempt|fault|abort|core dumped", re.IGNORECASE)


def death_line(lines: list[str]) -> str:
    """Of a dead job's stderr lines, the last one that names a cause, cut to 300 characters;
    empty when none does."""
    causes = [ln for ln in lines if _CAUSE.search(ln)]
    return causes[-1][:300] if causes else ""


class ProgressWatcher:
    """Polls the runs' status files from a thread and feeds the progress display; a thread,
    because the debug executor runs jobs in the driver's own thread."""

    def __init__(self, update: Callable[[Run, dict], None], every_s: float = 0.5) -> None:
        self.update = update
        self.every_s = every_s
        self.active: dict[str, Run] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProgressWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            for run in list(self.active.values()):
                status = read_status(Path(run.run_dir))
                if status:
                    self.update(run, status)


def cancel_runs(root: Path, keys: list[str] | None = None) -> list[tuple[str, str]]:
    """Cancel the jobs of runs in flight (all of them, or those in ``keys``) and give each run
    those jobs carried a failed record, so a later sweep does not resubmit it unasked
    (``--rerun-failed`` does). Returns (run key, job id) for every run cancelled."""
    views = view_runs(root)
    if keys is not None:
        known = {v.key for v in views}
        unknown = [k for k in keys if k not in known]
        if unknown:
            valid = ", ".join(v.key for v in views if v.state in _LIVE) or "none in flight"
            raise HarnessError(f"unknown run {unknown[0]!r}; valid: {valid}")
    chosen = [v for v in views if v.state in _LIVE and (keys is None or v.key in keys)]
    tickets = {v.job_id: read_ticket(Path(v.run_dir)) for v in chosen}
    live = [t for t in tickets.values() if t is not None]
    cancel_jobs(live)
    runs_dir = Path(root) / "runs"
    cancelled = []
    for ticket in live:
        # A job carrying several runs is cancelled whole: all of its runs stop.
        for key in ticket.runs or ():
            run_dir = runs_dir / key
            if (run_dir / RECORD_FILE).exists():
                continue
            failed_record(load_run(run_dir), f"cancelled by harness cancel (job"
                          f" {ticket.job_id})", job_id=ticket.job_id)
            cancelled.append((key, ticket.job_id))
    return cancelled


_LIVE = ("queued", "running", "preempted")
