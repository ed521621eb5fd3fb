"""Local jobs seen from any process: a submitit local job is a controller process (its pid is
the job id) that starts one task process per rank. Here: is it alive, and how to stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

CANCEL_GRACE_S = 10.0
"""How long a controller has to stop its tasks after SIGINT before its tree is killed."""


def is_alive(job_id: str) -> bool:
    """The job's controller is running: its pid is a live process running submitit (a recycled
    pid belongs to some other program; a zombie has ended)."""
    return _is_submitit(job_id)


def cancel(job_id: str, grace_s: float = CANCEL_GRACE_S) -> None:
    """Stop a local job and its tasks; returns once the controller is gone.

    SIGINT first, as submitit's own cancel: the controller's KeyboardInterrupt stops its tasks
    (SIGINT, then SIGKILL) before it exits. That SIGINT can be lost: when it lands while the
    controller is still importing, CPython may raise the KeyboardInterrupt inside a callback
    of the import machinery, print "Exception ignored" and carry on to start the task as if
    nothing happened. So a controller still alive after ``grace_s`` is killed outright, with
    every task it started.
    """
    if not _is_submitit(job_id):
        return
    pid = int(job_id)
    _signal(pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _is_submitit(job_id):
            return
        time.sleep(0.05)
    # Stopped first, so it starts no task while its tasks are found; the tasks are killed
    # before it, because once it is gone they are orphans nobody stops.
    _signal(pid, signal.SIGSTOP)
    for task in _children(pid):
        if _is_submitit(str(task)):
            _signal(task, signal.SIGKILL)
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own in the meantime
        os.kill(pid, signum)


def _is_submitit(job_id: str) -> bool:
    if not job_id.isdigit():
        return False
    # An empty command line is a passing state: a process still inside execve (Popen has
    # returned, but the kernel has not yet laid out the new arguments) or one that is ending.
    # Wait for whichever it is rather than guess.
    deadline = time.monotonic() + 2.0
    while True:
        try:
            cmdline = Path(f"/proc/{job_id}/cmdline").read_bytes()
            stat = Path(f"/proc/{job_id}/stat").read_text()
        except OSError:
            return False
        if cmdline:
            return b"submitit" in cmdline
        if stat[stat.rfind(")") + 2] in "ZXx" or time.monotonic() > deadline:
            return False  # a zombie (ended, not yet reaped), or not a user program at all
        time.sleep(0.002)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc: the kernel's children lists are not
    always compiled in)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it ended while we looked
        # The command name in parentheses may hold spaces: the fields start after the last ')'.
        fields = text[text.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found
