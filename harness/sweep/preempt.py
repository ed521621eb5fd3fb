"""Preemption at a safe point: submitit's signal (USR2 before SLURM's time limit or on
preemption) becomes a flag that the job checks between optimizer steps, benchmarks and stages.

submitit's own handler checkpoints and requeues the moment the signal lands, which may be in the
middle of an optimizer step. Here the signal only sets a flag; at the next safe point the job
saves its state and then hands over to submitit's handler (which calls ``RunJob.checkpoint``,
requeues and exits). If no safe point comes within ``grace_s`` the signal is re-raised and
handed over at once: the run then restarts from its last finished stage, still correctly.

SIGTERM (what SLURM sends on preemption with ``PreemptMode=REQUEUE``, and on scancel, before
killing the job) only asks for a checkpoint at the next safe point: SLURM itself decides
whether the job comes back, and if it does, it resumes from there.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import types
from collections.abc import Callable
from typing import Any

from submitit.core.job_environment import JobEnvironment

log = logging.getLogger(__name__)


class Preempted(Exception):  # noqa: N818 (a stop, not an error)
    """The job must stop here: raised where no submitit handler can requeue it (tests, and
    the debug executor)."""


class Preemption:
    """The flag between the signal and the next safe point."""

    def __init__(self, grace_s: float = 30.0) -> None:
        self.grace_s = grace_s
        self.requested = False
        self.save_requested = False
        """Set by SIGTERM: save at the next safe point, but keep going."""
        self._term_original: Callable[..., Any] | int | None = None
        self._signum: int | None = None
        self._original: Callable[..., Any] | None = None
        self._timer: threading.Timer | None = None

    @classmethod
    def install(cls, grace_s: float = 30.0) -> Preemption | None:
        """Take over submitit's preemption signal in this process; None when this process is
        not a submitit job with a handler to hand over to (then nothing changes)."""
        if threading.current_thread() is not threading.main_thread():
            return None

        signum = JobEnvironment._usr_sig()
        original = signal.getsignal(signum)
        if not callable(original):
            return None
        guard = cls(grace_s)
        guard._signum, guard._original = signum, original
        guard._term_original = signal.getsignal(signal.SIGTERM)
        signal.signal(signum, guard._on_signal)
        signal.signal(signal.SIGTERM, guard._on_term)
        return guard

    def uninstall(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._signum is not None and self._original is not None:
            signal.signal(self._signum, self._original)
        if self._term_original is not None:
            signal.signal(signal.SIGTERM, self._term_original)

    def _on_term(self, signum: int, frame: types.FrameType | None) -> None:
        log.warning("SIGTERM received: saving a checkpoint at the next safe point")
        self.save_requested = True
        if callable(self._term_original):  # submitit's handler logs and ignores it
            self._term_original(signum, frame)

    def request(self) -> None:
        """What the signal does; also how a test preempts a job at a chosen step."""
        self.requested = True

    def _on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        if self.requested:
            # The second signal (or our own, after grace_s): no safe point came in time.
            log.warning("no safe point within %.0f s of the preemption signal: requeueing now",
                        self.grace_s)
            self.hand_over()
            return
        log.warning("preemption signal received: stopping at the next safe point")
        self.request()
        self._timer = threading.Timer(self.grace_s, os.kill, (os.getpid(), signum))
        self._timer.daemon = True
        self._timer.start()

    def hand_over(self) -> None:
        """Let submitit checkpoint, requeue and exit (it raises SystemExit on the main task);
        without submitit, raise ``Preempted``."""
        if self._timer is not None:
            self._timer.cancel()
        if self._original is None or self._signum is None:
            raise Preempted("preempted")
        self._original(self._signum, None)
        # submitit's handler returns without exiting on the non-main tasks of a multi-task
        # job; the main task's requeue ends them anyway, so stop here.
        raise SystemExit(-1)
