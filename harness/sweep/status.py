"""A run's progress as the job writes it (``status.json``: stage, step, loss, who runs it), for
the progress display and ``harness status``."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import submitit

from harness.record import atomic_write_text

STATUS_FILE = "status.json"


def rank() -> int:
    """This process's rank in a multi-task job (0 when alone)."""
    return int(os.environ.get("RANK", "0"))


class StatusWriter:
    """Writes ``status.json`` (stage, step, loss) for the progress display and ``harness
    status``; throttled so a fast loop does not spend its time on file I/O."""

    def __init__(self, run_dir: Path, every_s: float = 0.5) -> None:
        self.path = run_dir / STATUS_FILE
        self.every_s = every_s
        self._last = 0.0
        self._job_id = current_job_id()

    def __call__(self, stage: str, step: int, total: int, loss: float | None = None,
                 force: bool = False) -> None:
        now = time.monotonic()
        if rank() != 0 or (not force and step < total and now - self._last < self.every_s):
            return
        self._last = now
        atomic_write_text(self.path, json.dumps(
            {"stage": stage, "step": step, "total": total, "loss": loss, "time": time.time(),
             "pid": os.getpid(), "host": socket.gethostname(), "job_id": self._job_id}))


def read_status(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


def current_job_id() -> str:
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job (called directly)
        return ""
