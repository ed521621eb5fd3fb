"""The cost of a plan, run by run (what ``harness sweep --dry-run`` prints): each run's stages
as the training loop will run them (samples, epochs, ``max_steps``), its evaluation, the sizes
of its models (``harness.sweep.sizes``) and the cluster profile's GPU (``harness.sweep.cost``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from harness.data.feature_cache import cache_off_reason
from harness.data.probes import PROBE_BENCHMARKS
from harness.data.sources import resolve_source
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.sweep.cost import (
    CHARS_PER_TOKEN,
    DEFAULT_MFU,
    GPU,
    PROBE_TEXT_TOKENS,
    Cost,
    StageWork,
    memory_problem,
    run_cost,
)
from harness.sweep.data_check import DataChecks
from harness.sweep.plan import Run
from harness.sweep.sizes import check_shardable, run_sizes


@dataclass(frozen=True)
class Hardware:
    """Where the runs go: a GPU kind, how many each run gets, and the MFU assumed."""

    gpu: GPU | None = None
    gpus: int = 1
    mfu: float = DEFAULT_MFU


def stage_work(run: Run, checks: DataChecks) -> list[StageWork]:
    """Each stage's samples (as ``train_stage`` counts them) and mean text tokens."""
    config = run.config
    out = []
    for stage in config.recipe.stages:
        if config.data is not None:  # each probe kind at the same size, mixed
            per_kind = config.data.n_align if stage.name == "align" else config.data.n_train
            available = per_kind * len(config.data.kinds)
            text = float(PROBE_TEXT_TOKENS)
        else:
            facts = checks.source(resolve_source(run.sources[stage.name]))
            available, text = facts.entries, facts.text_chars / CHARS_PER_TOKEN
        per_epoch = (available if stage.samples in (None, "all")
                     else min(int(stage.samples), available))
        steps = max(1, int(per_epoch * stage.epochs) // stage.global_batch)
        if stage.max_steps is not None:
            steps = min(steps, stage.max_steps)
        out.append(StageWork(stage.name, steps * stage.global_batch, text))
    return out


def eval_work(run: Run, checks: DataChecks) -> tuple[int, int]:
    """(items scored, counting the blind pass; the largest number of generated tokens)."""
    items, new_tokens = 0, 0
    for fingerprint in run.config.benchmarks:
        benchmark = BENCHMARKS.get(fingerprint["name"])
        if benchmark.name in PROBE_BENCHMARKS and run.config.data is not None:
            n = run.config.data.n_test
        else:
            n = checks.benchmark(benchmark).items
        items += n * (2 if run.blind_eval else 1)
        new_tokens = max(new_tokens, benchmark.max_new_tokens)
    return items, new_tokens


def estimate(runs: list[Run], hardware: Hardware, cache_dir: Path) -> list[Cost]:
    """One cost per run, in order. Sizes and data facts are measured once and shared."""
    roots = {r.data_root for r in runs}
    checks = {root: DataChecks(Path(root) if root else None, cache_dir) for root in roots}
    out = []
    for run in runs:
        check = checks[run.data_root]
        try:
            sizes = run_sizes(run.encoder_ids, run.tiny, run.config.connector, run.config.llm)
        except HarnessError as exc:
            raise HarnessError(f"cannot estimate run {run.key}: {exc}") from None
        items, new_tokens = eval_work(run, check)
        out.append(run_cost(
            sizes, stage_work(run, check), encoder=run.config.recipe.encoder,
            eval_items=items, eval_new_tokens=new_tokens, micro_batch=run.micro_batch,
            gradient_checkpointing=run.gradient_checkpointing,
            feature_cache=cache_off_reason(run) is None, keep=run.save_model, gpu=hardware.gpu,
            gpus=hardware.gpus, mfu=hardware.mfu, distributed=run.distributed))
    for check in checks.values():
        check.save()
    return out


def memory_plan(runs: list[Run], hardware: Hardware, cache_dir: Path, *,
                refuse: bool) -> tuple[list[Run], list[Cost]]:
    """Each run with ``auto`` turned into the strategy its memory allows on the hardware's GPU
    (``harness.sweep.cost.choose_distributed``), with its cost. ``refuse``: a run that fits
    under no strategy is refused here, in one line with the numbers, before anything is
    submitted. Without a GPU named there is nothing to fit: the runs stay as they are."""
    costs = estimate(runs, hardware, cache_dir)
    if hardware.gpu is None:
        return runs, costs
    planned = []
    for run, cost in zip(runs, costs, strict=True):
        problem = memory_problem(cost, hardware.gpu, hardware.gpus)
        if problem and refuse:
            raise HarnessError(f"run {run.key} ({run.label}): {problem}")
        if cost.distributed == "fsdp" and run.distributed != "fsdp":
            check_shardable(run.config.connector, run.config.llm)
        planned.append(dataclasses.replace(run, distributed=cost.distributed))
    return planned, costs
