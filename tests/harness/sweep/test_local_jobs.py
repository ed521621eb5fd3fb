"""Stopping local jobs: the graceful path through submitit's controller, and the tree kill when
the controller lost its SIGINT (as CPython can while the controller still imports)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import submitit

from harness.sweep import local_jobs

# A stand-in controller that, like one whose SIGINT was swallowed, ignores SIGINT; it starts a
# task and prints the task's pid. "submitit" on the command line makes both look like a
# submitit job to local_jobs, as the real controller's "-m submitit.local._local" does.
DEAF_CONTROLLER = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
task = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "submitit"])
print(task.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    return not local_jobs.is_alive(str(pid))


def test_a_controller_that_ignores_sigint_is_killed_with_its_task() -> None:
    controller = subprocess.Popen([sys.executable, "-c", DEAF_CONTROLLER, "submitit"],
                                  stdout=subprocess.PIPE, text=True)
    try:
        task = int(controller.stdout.readline())
        assert local_jobs.is_alive(str(controller.pid)) and local_jobs.is_alive(str(task))
        local_jobs.cancel(str(controller.pid), grace_s=1.0)
        assert controller.wait(timeout=10) == -9
        deadline = time.monotonic() + 10
        while not _gone(task) and time.monotonic() < deadline:
            time.sleep(0.05)  # the orphaned task is reaped by init once killed
        assert _gone(task)
    finally:
        controller.kill()


def test_a_submitit_job_stops_gracefully_and_cancel_waits_for_it(tmp_path: Path) -> None:
    job = submitit.LocalExecutor(tmp_path).submit(time.sleep, 120)
    try:
        local_jobs.cancel(job.job_id)
        # cancel returns once the controller has let go of its memory; the kernel may need
        # a moment more before its parent (this process) can reap it.
        assert not local_jobs.is_alive(job.job_id)
        deadline = time.monotonic() + 5
        while not job.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        # It stopped on its own, not by the SIGKILL that a lost SIGINT ends in. How it
        # stopped depends on where the SIGINT landed: -SIGINT (KeyboardInterrupt, or before
        # Python's handler), 1, or -SIGABRT (a fatal error while importing `site`).
        assert job._process.returncode not in (None, 0, -signal.SIGKILL)
    finally:
        job.cancel(check=False)


def test_not_a_submitit_process_is_left_alone() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not local_jobs.is_alive(str(other.pid))
        local_jobs.cancel(str(other.pid), grace_s=0.1)
        assert other.poll() is None
        local_jobs.cancel("not-a-pid")
    finally:
        other.kill()
