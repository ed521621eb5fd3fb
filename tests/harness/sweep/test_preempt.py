"""The preemption signal becomes a flag for the next safe point; submitit's handler runs only
then, or after the grace period when no safe point comes; SIGTERM asks for a checkpoint only."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from harness.sweep.checkpoint import RunCheckpoints
from harness.sweep.execute import execute
from harness.sweep.preempt import Preempted, Preemption
from harness.sweep.run_context import RunContext

from .conftest import plan_mini


@pytest.fixture
def submitit_handlers():
    """Stand-ins for what submitit installs in a job: a USR2 handler that checkpoints and
    requeues, a SIGTERM handler that only logs."""
    calls: list[str] = []
    saved = {s: signal.getsignal(s) for s in (signal.SIGUSR2, signal.SIGTERM)}
    signal.signal(signal.SIGUSR2, lambda *a: calls.append("requeue"))
    signal.signal(signal.SIGTERM, lambda *a: calls.append("term"))
    yield calls
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_the_signal_waits_for_a_safe_point(submitit_handlers) -> None:
    guard = Preemption.install(grace_s=60)
    assert guard is not None
    os.kill(os.getpid(), signal.SIGUSR2)
    assert guard.requested and submitit_handlers == []  # nothing happens mid-step
    with pytest.raises(SystemExit):
        guard.hand_over()  # the safe point: submitit's handler, then the task ends
    assert submitit_handlers == ["requeue"]
    guard.uninstall()
    assert signal.getsignal(signal.SIGUSR2) is not guard._on_signal


def test_without_a_safe_point_the_handler_runs_after_the_grace_period(
        submitit_handlers) -> None:
    guard = Preemption.install(grace_s=0.2)
    os.kill(os.getpid(), signal.SIGUSR2)
    with pytest.raises(SystemExit):
        for _ in range(100):  # a long step that never reaches a safe point
            time.sleep(0.05)
    assert submitit_handlers == ["requeue"]
    guard.uninstall()


def test_sigterm_asks_for_a_checkpoint_and_goes_on(submitit_handlers) -> None:
    guard = Preemption.install()
    os.kill(os.getpid(), signal.SIGTERM)
    assert guard.save_requested and not guard.requested
    assert submitit_handlers == ["term"]
    guard.uninstall()


def test_outside_a_submitit_job_nothing_is_installed() -> None:
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    assert Preemption.install() is None
    with pytest.raises(Preempted):
        Preemption().hand_over()


def test_a_checkpoint_asked_for_by_sigterm_is_saved_and_the_run_goes_on(
        tmp_path: Path, mini_preset: Path, monkeypatch) -> None:
    run = plan_mini(tmp_path, mini_preset, recipes=("frozen",))[0]
    saved: list[tuple[str, int]] = []
    real = RunCheckpoints.save_progress

    def spy(self, stage, model, state, extra=None, optimizer=None):
        saved.append((stage, state["loop"]["step"]))
        return real(self, stage, model, state, extra, optimizer)

    monkeypatch.setattr(RunCheckpoints, "save_progress", spy)

    class TermAt(RunContext):
        def __call__(self, stage, step, total, loss=None, force=False):
            super().__call__(stage, step, total, loss, force)
            if (stage, step) == ("finetune", 2):
                self.preemption.save_requested = True

    scores, train, _ = execute(run, TermAt(run, Preemption(), checkpoint_every_s=0))
    assert saved == [("finetune", 2)] and scores
    assert train["finetune"]["steps"] == 3 and train["finetune"]["resumed_at_step"] == 0
