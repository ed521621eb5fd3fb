"""The training loop: one readable loop on ``accelerate`` that runs a recipe's stages.

``align`` trains the connector; ``finetune`` trains the connector and the LLM, and the encoder
too (at its own learning rate) when the recipe unfreezes it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from accelerate import Accelerator

from harness.errors import HarnessError
from harness.model.mllm import MLLM
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
    bad_images: int = 0
    """Images skipped because they could not be read (within the recipe's bound)."""


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


def train_stage(model: MLLM, stage: Stage, recipe: Recipe, dataset, *, micro_batch: int,
                accelerator: Accelerator, seed: int,
                on_step: ProgressFn | None = None) -> StageResult:
    set_trainable(model, stage, recipe)
    micro, accumulation = plan_batches(stage.global_batch, micro_batch, accelerator.num_processes)
    per_epoch = len(dataset) if stage.samples is None else min(stage.samples, len(dataset))
    steps = max(1, int(per_epoch * stage.epochs) // stage.global_batch)
    if stage.max_steps is not None:
        steps = min(steps, stage.max_steps)

    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=micro, shuffle=True, drop_last=True, generator=generator,
        collate_fn=dataset.collate,
    )
    optimizer = torch.optim.AdamW(param_groups(model, stage, recipe),
                                  weight_decay=stage.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: cosine_lr(s, steps, stage.warmup_ratio))
    loader, optimizer, scheduler = accelerator.prepare(loader, optimizer, scheduler)

    model.train()
    if not model.encoder.trainable:
        model.encoder.eval()
    losses: list[float] = []
    batches = _forever(loader)
    started = time.perf_counter()
    for step in range(steps):
        step_loss = 0.0
        for _ in range(accumulation):
            batch = next(batches)
            while batch is None:  # every image of this micro-batch was unreadable
                batch = next(batches)
            with accelerator.autocast():
                loss = model(batch["input_ids"], batch["attention_mask"], batch["pixels"],
                             labels=batch["labels"])
            accelerator.backward(loss / accumulation)
            step_loss += loss.item() / accumulation
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(step_loss)
        if on_step is not None:
            on_step(stage.name, step + 1, steps, step_loss)
    check_bad_images(dataset, stage, recipe)
    tail = losses[-max(1, len(losses) // 10):]
    return StageResult(
        name=stage.name, steps=steps, samples=steps * stage.global_batch, micro_batch=micro,
        accumulation=accumulation, first_loss=losses[0], final_loss=sum(tail) / len(tail),
        seconds=time.perf_counter() - started,
        bad_images=len(getattr(dataset, "bad_images", {})),
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


def _forever(loader):
    """Batches across epoch boundaries (a fresh shuffle each epoch)."""
    while True:
        yield from loader
