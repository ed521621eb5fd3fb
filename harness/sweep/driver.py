"""The sweep driver: submit planned runs, show progress (per run and overall), ingest each
record into the store as it lands, and report failures at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.data.probe import write_probe
from harness.store import Store, ingest_paths
from harness.sweep.job import RunJob, failed_record, read_status
from harness.sweep.plan import Run, write_config
from harness.sweep.record import ResultRecord, read_record
from harness.sweep.submit import make_executor

# Called as (run, event, record); events: "started", "finished".
Listener = Callable[[Run, str, ResultRecord | None], None]


@dataclass
class SweepReport:
    done: list[ResultRecord] = field(default_factory=list)
    failed: list[ResultRecord] = field(default_factory=list)
    seconds: float = 0.0


def prepare_data(runs: list[Run]) -> None:
    """Write each dataset once, before any job starts, so parallel jobs never race on it."""
    for data_dir, data in {r.data_dir: r.config.data for r in runs}.items():
        write_probe(Path(data_dir), seed=data.seed, n_align=data.n_align, n_train=data.n_train,
                    n_test=data.n_test, image_size=data.image_size)


def execute_runs(runs: list[Run], *, executor: str, root: Path, store: Store,
                 parallel: int = 1, listener: Listener | None = None) -> SweepReport:
    """Run ``runs`` with at most ``parallel`` at a time; every record is ingested as it lands."""
    report = SweepReport()
    started = time.perf_counter()
    prepare_data(runs)
    submitter = make_executor(executor, root / "submitit")
    pending = list(runs)
    active: list[tuple[Run, object]] = []
    while pending or active:
        while pending and len(active) < max(1, parallel):
            run = pending.pop(0)
            write_config(run)
            (Path(run.run_dir) / "record.json").unlink(missing_ok=True)  # a rerun of a failure
            active.append((run, submitter.submit(RunJob(), run)))
            if listener:
                listener(run, "started", None)
        for run, job in list(active):
            if not job.done():
                continue
            active.remove((run, job))
            record = _collect(run, job)
            (report.done if record.status == "done" else report.failed).append(record)
            ingest_paths(store, [Path(run.run_dir)])
            if listener:
                listener(run, "finished", record)
        if active:
            time.sleep(0.25)
    report.seconds = time.perf_counter() - started
    return report


def _collect(run: Run, job) -> ResultRecord:
    """The run's record; if the job died outside Python, write a failed record for it."""
    try:
        job.result()
    except Exception as exc:  # submitit re-raises whatever killed the job
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        try:
            return read_record(Path(run.run_dir))
        except (OSError, ValueError):
            return failed_record(run, f"job died: {reason}")
    return read_record(Path(run.run_dir))


class ProgressWatcher:
    """Polls the active runs' status files from a thread and feeds the progress display;
    a thread, because the debug executor runs jobs in the driver's own thread."""

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
