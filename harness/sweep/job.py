"""One submitit job: it carries one run or several, and for each builds the MLLM, trains its
stages, evaluates and writes the run's record.

A crash is caught and written as a failed record with its error (the traceback goes to
``error.log``), so the job goes on with its next run. The job is ``Checkpointable``: on
preemption or time-out it saves its state at the next safe point and is requeued; the requeued
job skips runs that already have a record, stages that already finished and benchmarks that
already have scores, and continues a stopped stage exactly where it stopped.
"""

from __future__ import annotations

import gc
import os
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import submitit

from harness.phases import PhaseClock, process_age, running
from harness.record import Score, write_record
from harness.sweep.accelerate_config import applied
from harness.sweep.execute import execute
from harness.sweep.plan import Run
from harness.sweep.preempt import Preempted, Preemption
from harness.sweep.run_context import CHECKPOINT_EVERY_S, RunContext
from harness.sweep.run_record import build_record, encoder_info, existing_record, with_params
from harness.sweep.status import rank

ERROR_LOG = "error.log"


class RunJob(submitit.helpers.Checkpointable):
    """The callable submitted per job: ``RunJob()(run)`` or ``RunJob()([run, run, ...])``.

    Several runs per job share one process start (importing torch, transformers and timm
    costs seconds, a smoke run not many more); each run still writes its own record.
    """

    def __init__(self, checkpoint_every_s: float = CHECKPOINT_EVERY_S,
                 grace_s: float = 30.0, accelerate_config: str | None = None) -> None:
        self.checkpoint_every_s = checkpoint_every_s
        self.grace_s = grace_s
        self.accelerate_config = accelerate_config
        """An accelerate config file the job's Accelerator is built under (see
        ``harness.sweep.accelerate_config``); None: accelerate's environment as it is."""

    def __call__(self, runs: Run | Sequence[Run]) -> str | list[str]:

        batch = [runs] if isinstance(runs, Run) else list(runs)
        _join_process_group()
        preemption = Preemption.install(self.grace_s)
        try:
            with applied(self.accelerate_config):
                statuses = [self.run_one(run, preemption) for run in batch]
        finally:
            if preemption is not None:
                preemption.uninstall()
        return statuses[0] if isinstance(runs, Run) else statuses

    def run_one(self, run: Run, preemption: Preemption | None = None) -> str:
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        existing = existing_record(run)
        if existing is not None:
            # A requeued job (or a second job for the same run) never lands a second result.
            return existing.status
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        info = encoder_info(run)
        scores: tuple[Score, ...] = ()
        train: dict = {}
        error = None
        ctx = RunContext(run, preemption, self.checkpoint_every_s)
        ctx("starting", 0, 0, force=True)
        clock = PhaseClock()
        imports = _process_start()
        if imports is not None:
            clock.add("import", imports)
        try:
            with running(clock):
                scores, train, params = execute(run, ctx)
            info = with_params(info, params)
        except (Preempted, SystemExit):
            raise
        except Exception as exc:  # any crash becomes a failed record, never a lost run
            if rank() == 0:
                (run_dir / ERROR_LOG).write_text(traceback.format_exc())
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if rank() != 0:
            return "failed" if error else "done"
        seconds = time.perf_counter() - t0
        train = {**train, "phases": clock.breakdown(seconds)}
        record = build_record(run, info, scores=scores, train=train, started=started,
                              seconds=seconds, error=error)
        write_record(run_dir, record)
        ctx(record.status, 1, 1, force=True)
        if record.status == "done":
            ctx.checkpoints.clear()
        return record.status

    def checkpoint(self, runs: Run | Sequence[Run]) -> submitit.helpers.DelayedSubmission:
        """submitit calls this on preemption or time-out; the state is already saved."""
        return submitit.helpers.DelayedSubmission(
            RunJob(self.checkpoint_every_s, self.grace_s, self.accelerate_config), runs)


_started = False


def _process_start() -> float | None:
    """Once per process, at its first run: the seconds it took to start (importing torch,
    transformers and the rest), which that run carries (later runs start warm; 0); and
    everything then alive (the imported libraries: half a million objects) moved out of the
    garbage collector's sight. accelerate collects garbage at the end of every stage, and a
    full collection over the imports costs a quarter of a second each time on a laptop CPU;
    after this it walks only what the runs themselves made."""
    global _started
    if _started:
        return 0.0
    _started = True
    age = process_age()
    gc.collect()
    gc.freeze()
    return age


def _join_process_group() -> None:
    """In a multi-task SLURM job (one task per GPU), export the torch.distributed variables
    so that accelerate joins every task into one process group."""
    try:
        env = submitit.JobEnvironment()
    except RuntimeError:  # not inside a submitit job
        return
    if env.num_tasks > 1 and "RANK" not in os.environ:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
