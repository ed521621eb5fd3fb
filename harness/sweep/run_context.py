"""What a run's steps get besides the run: its status writer, its checkpoints and the
preemption flag, agreed by every process; the training loop's ``StageHooks``. It saves inside
a stage when asked (a signal, or every ``CHECKPOINT_EVERY_S``) and hands over to submitit."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from harness.sweep.checkpoint import RunCheckpoints, rng_state, set_rng_state
from harness.sweep.plan import Run
from harness.sweep.preempt import Preempted, Preemption
from harness.sweep.status import StatusWriter
from harness.train import LoopState

CHECKPOINT_EVERY_S = 1800.0
"""Also save inside a stage this often, against deaths no signal announces (node failure)."""


class RunContext(StatusWriter):
    """What ``execute`` gets besides the run: the status writer (it is one, so
    ``ctx(stage, step, total)`` reports progress), the run's checkpoints and the preemption
    flag. It is the training loop's ``StageHooks``."""

    def __init__(self, run: Run, preemption: Preemption | None = None,
                 checkpoint_every_s: float = CHECKPOINT_EVERY_S) -> None:
        super().__init__(Path(run.run_dir))
        self.run = run
        self.checkpoints = RunCheckpoints(Path(run.run_dir), run.key)
        self.preemption = preemption
        self.checkpoint_every_s = checkpoint_every_s
        self.tokenizer_hash = ""
        self.accelerator = None
        self._saved_at = time.monotonic()

    # ---- the stop decision, agreed by every process of a multi-task job
    def _flags(self, collective: bool = True) -> tuple[bool, bool]:
        """(stop and requeue, save now) as asked by the signals, on any process."""
        p = self.preemption
        flags = [bool(p and p.requested), bool(p and p.save_requested)]
        if collective and self.accelerator is not None and self.accelerator.num_processes > 1:

            agreed = self.accelerator.reduce(
                torch.tensor([float(f) for f in flags], device=self.accelerator.device), "max")
            flags = [bool(v) for v in agreed.tolist()]
        return flags[0], flags[1]

    def stop_requested(self, collective: bool = True) -> bool:
        return self._flags(collective)[0]

    def stop(self, stage: str) -> None:
        """Called once the state is saved: hand over to submitit (requeue and exit)."""
        self(f"preempted:{stage}", 0, 0, force=True)
        if self.preemption is None:
            raise Preempted(f"preempted in {stage}")
        self.preemption.hand_over()

    def safe_point(self, stage: str, collective: bool = True) -> None:
        """Between stages and benchmarks everything done is already saved: stop if asked.
        ``collective=False`` where only the main task gets (evaluation)."""
        if self.stop_requested(collective):
            self.stop(stage)

    # ---- StageHooks
    def restore(self, stage, model, optimizer, scheduler):

        meta = self.checkpoints.progress_meta(stage.name)
        if meta is None or meta.get("tokenizer_hash") != self.tokenizer_hash:
            return None
        state = self.checkpoints.load_progress(stage.name, model, optimizer)
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        return LoopState(**state["loop"])

    def after_step(self, stage, model, optimizer, scheduler, state) -> None:
        stop, asked = self._flags()
        due = (self.checkpoint_every_s > 0
               and time.monotonic() - self._saved_at >= self.checkpoint_every_s)
        if asked and self.preemption is not None:
            self.preemption.save_requested = False
        if stop or due or asked:
            self.checkpoints.save_progress(
                stage.name, model,
                {"scheduler": scheduler.state_dict(), "rng": rng_state(),
                 "loop": dataclasses.asdict(state)},
                {"step": state.step, "tokenizer_hash": self.tokenizer_hash}, optimizer)
            if self.accelerator is not None:
                self.accelerator.wait_for_everyone()
            self._saved_at = time.monotonic()
        if stop:
            self.stop(f"{stage.name} step {state.step}")
