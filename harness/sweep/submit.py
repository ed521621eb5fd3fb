"""submitit executors, always chosen explicitly (``AutoExecutor`` without a cluster silently
picks SLURM whenever ``srun`` exists)."""

from __future__ import annotations

from pathlib import Path

import submitit

from harness.errors import HarnessError

EXECUTORS = {
    "local": "each run in its own subprocess on this machine",
    "debug": "each run inside this process (for debugging; a crash can take the driver down)",
}
_WEEK_MIN = 7 * 24 * 60


def make_executor(kind: str, folder: Path) -> submitit.Executor:
    if kind not in EXECUTORS:
        raise HarnessError(f"unknown executor {kind!r}; valid: {', '.join(EXECUTORS)}")
    executor = submitit.AutoExecutor(folder=folder, cluster=kind)
    if kind == "local":
        # submitit's local default kills a job after 5 minutes; a run may take much longer.
        executor.update_parameters(timeout_min=_WEEK_MIN)
    return executor
