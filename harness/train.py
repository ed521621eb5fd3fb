"""The training loop: one readable loop on ``accelerate`` that runs a recipe's stages.

``align`` trains the connector; ``finetune`` trains the connector and the LLM, and the encoder
too (at its own learning rate) when the recipe unfreezes it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device

from harness.data.conversations import UNREADABLE
from harness.errors import HarnessError
from harness.model.mllm import MLLM
from harness.parallel import DataParallel, Parallel
from harness.preset import DataLoading
from harness.recipe import Recipe, Stage

# (stage name, optimizer step, total steps, loss) -> None; called after every optimizer step.
ProgressFn = Callable[[str, int, int, float], None]


@dataclass(frozen=True)
class StageResult:
    name: str
    steps: int
    samples: int
    micro_batch: int
    accumulation: int
    first_loss: float
    final_loss: float
    """Mean loss over the last tenth of the steps (a single step is too noisy to report)."""
    seconds: float
    resumed_at_step: int = 0
    """Optimizer steps an earlier, preempted attempt had done (0: trained in one go)."""
    processes: int = 1
    """Data-parallel processes (one per GPU) the stage trained on."""
    distributed: str = "ddp"
    """How the processes shared the model: ``ddp`` (whole copies) or ``fsdp`` (shards)."""
    bad_images: int = 0
    """Images skipped because they could not be read (within the recipe's bound)."""
    losses: tuple[float, ...] = ()
    """Every optimizer step's loss, in order: the stage's loss curve (the run page draws it)."""


def cosine_lr(step: int, total: int, warmup_ratio: float) -> float:
    """Multiplier of the peak LR at ``step``: linear warmup, then cosine decay to zero."""
    warmup = math.ceil(total * warmup_ratio)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def plan_batches(global_batch: int, micro_batch: int, world_size: int) -> tuple[int, int]:
    """(micro batch, accumulation steps) whose product with the world size is the global batch.

    The micro batch is the largest divisor of the per-device share not above the one asked
    for, so a recipe's global batch holds on any number of devices.
    """
    per_device, rest = divmod(global_batch, world_size)
    if rest or per_device == 0:
        raise ValueError(f"global batch {global_batch} does not split over {world_size} devices")
    micro = max(d for d in range(1, min(micro_batch, per_device) + 1) if per_device % d == 0)
    return micro, per_device // micro


def set_trainable(model: MLLM, stage: Stage, recipe: Recipe) -> None:
    model.encoder.set_trainable(stage.name == "finetune" and recipe.encoder == "unfrozen")
    model.llm.requires_grad_(stage.name == "finetune")
    model.connector.requires_grad_(True)


def param_groups(model: MLLM, stage: Stage, recipe: Recipe) -> list[dict]:
    groups = [{"params": [p for p in model.connector.parameters() if p.requires_grad]
                         + [p for p in model.llm.parameters() if p.requires_grad],
               "lr": stage.lr}]
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    if encoder_params:
        groups.append({"params": encoder_params, "lr": recipe.encoder_lr})
    return groups


@dataclass
class LoopState:
    """Where a stage stands: with the model, optimizer, scheduler and RNG state it lets a
    stopped stage continue exactly (same batches, same learning rates, same losses)."""

    step: int = 0
    """Optimizer steps done."""
    epoch: int = 0
    offset: int = 0
    """Samples of this epoch's order already used, counted over all processes."""
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    """Training time spent by earlier attempts."""
    bad_images: dict[str, str] = field(default_factory=dict)
    """Unreadable images met so far (path -> reason), so the bound counts them all."""


class StageHooks(Protocol):
    """How a caller checkpoints a stage (see ``harness.sweep.run_context``); the loop itself
    knows no file format. ``after_step`` may save and then raise ``StageStopped`` to end the
    stage."""

    def restore(self, stage: Stage, model: MLLM, optimizer, scheduler) -> LoopState | None: ...

    def after_step(self, stage: Stage, model: MLLM, optimizer, scheduler,
                   state: LoopState) -> None: ...


class StageStopped(Exception):  # noqa: N818 (a stop, not an error)
    """Raised from ``StageHooks.after_step`` once the stage's state is saved (preemption)."""


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: a function of (seed, epoch) only, so a resumed stage
    can start in the middle of an epoch without replaying the batches before it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


class BatchOrder:
    """Micro-batches of sample indices for one process, forever, from a data position.

    Every process walks the same epoch order; process ``rank`` takes its slice of each span of
    ``micro * world`` samples, and an epoch's incomplete last span is dropped.
    """

    def __init__(self, n: int, micro: int, world: int, rank: int, seed: int,
                 epoch: int = 0, offset: int = 0) -> None:
        if n < micro * world:
            raise ValueError(f"{n} samples do not fill one micro-batch of {micro} on"
                             f" {world} process(es)")
        self.n, self.micro, self.world, self.rank, self.seed = n, micro, world, rank, seed
        self.epoch, self.offset = epoch, offset

    def __iter__(self) -> Iterator[list[int]]:
        epoch, offset, span = self.epoch, self.offset, self.micro * self.world
        while True:
            order = epoch_order(self.n, self.seed, epoch)
            for start in range(offset, self.n - span + 1, span):
                first = start + self.rank * self.micro
                yield order[first:first + self.micro].tolist()
            epoch, offset = epoch + 1, 0

    def advance(self, state: LoopState) -> None:
        """Move ``state``'s data position past one micro-batch (as ``__iter__`` does)."""
        span = self.micro * self.world
        state.offset += span
        if state.offset + span > self.n:
            state.epoch, state.offset = state.epoch + 1, 0


def train_stage(model: MLLM, stage: Stage, recipe: Recipe, dataset, *, micro_batch: int,
                accelerator: Accelerator, seed: int,
                on_step: ProgressFn | None = None,
                hooks: StageHooks | None = None,
                loading: DataLoading | None = None,
                parallel: Parallel | None = None) -> StageResult:
    """Train one stage; with ``hooks``, resume from and save checkpoints inside it.

    ``parallel`` spreads the stage over the processes (``harness.parallel``; default DDP
    through ``accelerator``). Under DDP ``model`` is the plain module, prepared for this stage
    only and handed back plain, because which parameters train (and so which gradients DDP
    reduces) changes between stages; under FSDP it is already sharded, once for all stages.
    """
    parallel = parallel or DataParallel(accelerator)
    set_trainable(model, stage, recipe)
    world = accelerator.num_processes
    micro, accumulation = plan_batches(stage.global_batch, micro_batch, world)
    per_epoch = (len(dataset) if stage.samples in (None, "all")
                 else min(stage.samples, len(dataset)))
    steps = max(1, int(per_epoch * stage.epochs) // stage.global_batch)
    if stage.max_steps is not None:
        steps = min(steps, stage.max_steps)

    optimizer = torch.optim.AdamW(param_groups(model, stage, recipe),
                                  weight_decay=stage.weight_decay)
    # Not prepared by accelerate: its scheduler wrapper steps once per process, but this
    # schedule counts global optimizer steps.
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: cosine_lr(s, steps, stage.warmup_ratio))
    optimizer = parallel.prepare_optimizer(optimizer)
    state = (hooks.restore(stage, model, optimizer, scheduler) if hooks else None) or LoopState()
    if state.bad_images and hasattr(dataset, "bad_images"):
        dataset.bad_images.update(state.bad_images)

    order = BatchOrder(len(dataset), micro, world, accelerator.process_index, seed,
                       state.epoch, state.offset)
    # A generator of its own: the loader would otherwise draw its base seed from the global
    # RNG, which a resumed stage has just restored, and every dropout mask after it would
    # differ from the uninterrupted run's.
    loading = loading or DataLoading()
    # The batch order is the sampler's, read in this process, and the data position advances
    # only as batches are used: workers reading ahead leave a resumed stage exact.
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=order, collate_fn=dataset.collate,
        generator=torch.Generator().manual_seed(seed), num_workers=loading.workers,
        pin_memory=loading.pin_memory, persistent_workers=loading.persistent_workers,
        prefetch_factor=loading.prefetch_factor if loading.workers else None)
    trained = parallel.prepare(model)
    trained.train()
    if not model.encoder.trainable:
        model.encoder.eval()
    resumed_at = state.step
    batches = iter(loader)

    def next_batch() -> dict:
        """The next micro-batch with a readable image, noting the unreadable ones."""
        while True:
            batch = next(batches)
            order.advance(state)
            unreadable = batch.pop(UNREADABLE, {})
            if unreadable and hasattr(dataset, "bad_images"):
                dataset.bad_images.update(unreadable)
            if "input_ids" in batch:
                return batch

    started = time.perf_counter()
    try:
        for step in range(state.step, steps):
            step_loss = 0.0
            for k in range(accumulation):
                batch = send_to_device(next_batch(), accelerator.device)
                # Reduce gradients across processes only on the last micro-batch of a step.
                last = k == accumulation - 1
                with contextlib.nullcontext() if last else parallel.no_sync(trained):
                    with accelerator.autocast():
                        # Cached features (a frozen encoder, harness.data.feature_cache) come
                        # instead of pixels.
                        loss = trained(batch["input_ids"], batch["attention_mask"],
                                       batch.get("pixels"), labels=batch["labels"],
                                       image_features=batch.get("image_features"))
                    accelerator.backward(loss / accumulation)
                step_loss += loss.item() / accumulation
            if world > 1:  # report the step's loss over all processes, as one process sees it
                step_loss = accelerator.reduce(
                    torch.tensor([step_loss], device=accelerator.device), "mean").item()
            parallel.clip(trained, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step = step + 1
            state.losses.append(step_loss)
            if on_step is not None:
                on_step(stage.name, step + 1, steps, step_loss)
            if hooks is not None:
                spent = state.seconds
                state.seconds = spent + time.perf_counter() - started
                state.bad_images = dict(getattr(dataset, "bad_images", {}))
                hooks.after_step(stage, model, optimizer, scheduler, state)
                state.seconds = spent
    finally:
        parallel.release(trained)
    check_bad_images(dataset, stage, recipe)
    losses = state.losses
    tail = losses[-max(1, len(losses) // 10):]
    return StageResult(
        name=stage.name, steps=steps, samples=steps * stage.global_batch, micro_batch=micro,
        accumulation=accumulation, first_loss=losses[0], final_loss=sum(tail) / len(tail),
        seconds=state.seconds + time.perf_counter() - started, resumed_at_step=resumed_at,
        processes=world, distributed=parallel.name,
        bad_images=len(getattr(dataset, "bad_images", {})),
        losses=tuple(round(loss, 5) for loss in losses),
    )


def check_bad_images(dataset, stage: Stage, recipe: Recipe) -> None:
    """Fail the stage when too many of its images could not be read; say which."""
    bad = getattr(dataset, "bad_images", {})
    if not bad:
        return
    share = len(bad) / len(dataset)
    if share > recipe.max_bad_images:
        path, reason = next(iter(bad.items()))
        raise HarnessError(
            f"stage {stage.name}: {len(bad)} of {len(dataset)} images unreadable"
            f" ({share:.1%} > max_bad_images {recipe.max_bad_images:.1%}); first: {path}:"
            f" {reason}")

