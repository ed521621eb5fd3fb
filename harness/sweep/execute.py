"""One run, as a short sequence of named steps: build the model (sharded under FSDP), train
each stage an earlier attempt did not finish, evaluate every benchmark (each process its share),
save the model. Also where a run's training data and benchmark folders are found."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from pathlib import Path
from typing import Any

import torch

from harness.config import to_plain
from harness.data import feature_cache
from harness.data.aspect import mean_colour, with_aspect
from harness.data.conversations import ConversationDataset
from harness.data.probes import PROBE_BENCHMARKS, write_probes
from harness.data.sources import resolve_source, subsample
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.runner import EvalOptions, Shard, evaluate
from harness.model.ensemble import members
from harness.parallel import make_parallel
from harness.phases import timed
from harness.record import PREDICTIONS_DIR, Score
from harness.sweep.data_check import current_hash
from harness.sweep.model import (
    build_model,
    distributed_for,
    enable_gradient_checkpointing,
    make_accelerator,
    save_model,
    tokenizer_hash,
)
from harness.sweep.plan import Run
from harness.sweep.run_context import RunContext
from harness.sweep.status import StatusWriter
from harness.train import train_stage


def execute(run: Run, status: StatusWriter
            ) -> tuple[tuple[Score, ...], dict, tuple[int, ...]]:
    """Build, train and evaluate; returns the scores, per-stage training stats and each
    encoder's parameter count (one per member for a combination). Given a ``RunContext``,
    resume what an earlier attempt saved."""
    with timed("build"):
        work, train = _build(run, status)
    try:
        with timed("train"):
            restored = _train_stages(work, train)
        with timed("eval"):
            scores = _evaluate_all(work, restored)
        with timed("save"):
            # The trained model stays with its scores (``harness eval`` rebuilds it from there).
            save_model(run, work.model, work.tokenizer, run.save_model, work.parallel)
    finally:
        work.parallel.close()
    counts = parameter_counts(work.model.encoder)
    if not work.parallel.is_main:
        return (), train, counts  # the main task records
    if not scores:
        raise HarnessError("no scores: the preset names no benchmark")
    return tuple(scores), train, counts


@dataclasses.dataclass
class _Work:
    """What a run's steps share once it is built."""

    run: Run
    status: StatusWriter
    ctx: RunContext | None
    model: Any
    tokenizer: Any
    accelerator: Any
    parallel: Any
    """How the processes share the model (``harness.parallel``)."""
    transform: Any
    features: Any
    """The frozen encoder's cached features (``harness.data.feature_cache``), or None."""
    folders: dict[str, Path]
    """Each benchmark's data folder."""
    stage_data: dict[str, list[dict]]
    stage_images: dict[str, Path]


def _build(run: Run, status: StatusWriter) -> tuple[_Work, dict]:
    """The model on its device (sharded under FSDP), its tokenizer and transform, the
    training data and benchmark folders, the feature cache; and the training stats so far."""
    ctx = status if isinstance(status, RunContext) else None
    config = run.config
    stage_data, stage_images, probe_root = training_data(run)
    corpus = [t["value"] for rows in stage_data.values() for r in rows
              for t in r["conversations"]]
    distributed = distributed_for(run)
    # Under FSDP a pretrained LLM is read in bf16 (half the host memory of fp32, and what
    # released weights are), and each process upcasts only its own shard.
    model, tokenizer = build_model(run, corpus, llm_dtype=torch.bfloat16
                                   if distributed == "fsdp" else torch.float32)
    accelerator = make_accelerator(config.recipe)
    # Moved, not prepared: with several processes train_stage wraps the model in DDP per stage.
    model = model.to(accelerator.device)
    if ctx is not None:
        ctx.accelerator = accelerator
        # A resumed run must see the very vocabulary its checkpoint was trained with.
        ctx.tokenizer_hash = tokenizer_hash(tokenizer)
    train: dict = {}
    if run.gradient_checkpointing:
        enable_gradient_checkpointing(model.llm)
        train["gradient_checkpointing"] = {"used": True}
    folders = {b["name"]: benchmark_folder(run, b["name"], probe_root)
               for b in config.benchmarks}
    with timed("features"):
        features, train["feature_cache"] = feature_cache.for_run(
            run, model.encoders, probe_root, [r for rows in stage_data.values() for r in rows],
            accelerator, folders)
    # After the features are cached (the encoders ran whole): FSDP shards the model here,
    # once for every stage.
    parallel = make_parallel(accelerator, model, distributed, config.recipe.precision)
    if ctx is not None:
        ctx.checkpoints.parallel = parallel
    work = _Work(run, status, ctx, model, tokenizer, accelerator, parallel,
                 run_transform(model.encoder, config.image_aspect), features, folders,
                 stage_data, stage_images)
    return work, train


def _train_stages(work: _Work, train: dict) -> set[str]:
    """Train each stage an earlier attempt did not finish, into ``train``; returns the names
    of the stages restored from that attempt."""
    run, ctx, model = work.run, work.ctx, work.model
    config = run.config
    restored = _restore_finished_stages(ctx, config.recipe.stages, model) if ctx else {}
    for stage in config.recipe.stages:
        if stage.name in restored:
            train[stage.name] = restored[stage.name]
            continue
        if ctx is not None:
            ctx.safe_point(f"before {stage.name}")
        dataset = ConversationDataset(
            work.stage_data[stage.name], work.stage_images[stage.name], work.tokenizer,
            work.transform, num_image_tokens=model.num_image_tokens,
            max_length=config.recipe.max_length, system=config.llm.system_prompt)
        if work.features is not None:
            dataset = work.features.dataset(dataset)
        result = train_stage(model, stage, config.recipe, dataset,
                             micro_batch=run.micro_batch, accelerator=work.accelerator,
                             seed=config.seed, on_step=work.status, hooks=ctx,
                             loading=run.data_loading, parallel=work.parallel)
        train[stage.name] = to_plain(result)
        if ctx is not None:
            ctx.checkpoints.save_stage(stage.name, model, train[stage.name],
                                       {"tokenizer_hash": ctx.tokenizer_hash})
            work.accelerator.wait_for_everyone()
    return set(restored)


def _evaluate_all(work: _Work, restored: set[str]) -> list[Score]:
    """Score every benchmark (and blind, when asked): each process predicts its own share of
    the items and the main process merges them and scores (the others get [])."""
    run, ctx, status, parallel = work.run, work.ctx, work.status, work.parallel
    config = run.config
    predictions = Path(run.run_dir) / PREDICTIONS_DIR
    if config.recipe.stages[-1].name not in restored and parallel.is_main:
        # The evaluation resumes from predictions an earlier attempt left, which is right only
        # for the very weights that made them: those of a restored final stage.
        shutil.rmtree(predictions, ignore_errors=True)
    parallel.barrier()
    shard = Shard(parallel.rank, parallel.world, parallel.barrier) if parallel.world > 1 \
        else None
    scores: list[Score] = []
    # With the image, then (blind_eval) without it: the gap is the benchmark's vision reliance.
    passes = (False, True) if run.blind_eval else (False,)
    for fingerprint, blind in itertools.product(config.benchmarks, passes):
        benchmark = BENCHMARKS.get(fingerprint["name"])
        name = benchmark.name + EvalOptions(blind=blind).variant
        saved = ctx.checkpoints.load_scores(name) if ctx else None
        if saved is not None:
            scores += saved
            continue
        stage = f"eval:{name}"

        def progress(done: int, total: int, stage: str = stage) -> None:
            status(stage, done, total)
            if ctx is not None:  # every finished batch is on disk: a safe point
                ctx.safe_point(f"{stage} {done}/{total}", collective=False)

        status(stage, 0, 1, force=True)
        folder = work.folders[benchmark.name]
        features = work.features
        with work.accelerator.autocast(), parallel.full_params(work.model):
            found = evaluate(work.model, work.tokenizer, benchmark, folder, work.transform,
                             batch_size=run.eval_batch, blind=blind,
                             predictions_file=predictions / f"{name}.jsonl",
                             system=config.llm.system_prompt, on_progress=progress,
                             image_features=None if features is None
                             else features.within(folder), shard=shard)
        if ctx is not None and parallel.is_main:
            ctx.checkpoints.save_scores(name, found)
        parallel.barrier()  # the scores are on disk before any process looks for them
        scores += found
        status(stage, 1, 1, force=True)
    return scores


def run_transform(encoder, aspect: str):
    """The encoder's transform (a combination's: each member's), after squaring the image
    as the run's ``image_aspect`` says; ``pad`` fills with the (first) encoder's mean."""
    return with_aspect(encoder.transform(), aspect, mean_colour(members(encoder)[0].mean))


def training_data(run: Run) -> tuple[dict[str, list[dict]], dict[str, Path], Path | None]:
    """Per stage, the conversations it trains on and the folder their images are relative
    to; and the run's generated probes' folder (None for a run on data-root sources). A source
    whose annotations changed since the plan fails the run: its key promised other data."""
    config = run.config
    if config.data is not None:
        probes = write_probes(Path(run.data_dir), config.data)
        rows = {"align": probes.conversations("align"),
                "finetune": probes.conversations("train")}
        return rows, dict.fromkeys(rows, probes.root), probes.root
    data_root = Path(run.data_root) if run.data_root else None
    rows, images = {}, {}
    for stage in config.recipe.stages:
        source = resolve_source(run.sources[stage.name])
        planned = config.sources[stage.name]
        found = current_hash(source, data_root)
        if found != planned["annotation_hash"]:
            raise HarnessError(f"data source {source.name!r} changed since the plan "
                               f"(annotations {found}, planned {planned['annotation_hash']}); "
                               "plan the sweep again")
        samples = None if planned["samples"] == "all" else int(planned["samples"])
        rows[stage.name] = subsample(source.load(data_root), samples, source.name, stage.name)
        images[stage.name] = source.images(data_root)
    return rows, images, None


def benchmark_folder(run: Run, name: str, probe_root: Path | None) -> Path:
    """Where a run reads a benchmark: a probe from its kind's folder among the run's generated
    probes, every other one from its release's folder under the data root (``DIR/<name>/``)."""
    if name in PROBE_BENCHMARKS and probe_root is not None:
        return probe_root / PROBE_BENCHMARKS[name].folder
    return Path(run.data_root) / BENCHMARKS.get(name).data_folder


def parameter_counts(encoder) -> tuple[int, ...]:
    """Each encoder's parameter count, in the order the connector receives them."""
    return tuple(e.num_parameters() for e in members(encoder))


def _restore_finished_stages(ctx: RunContext, stages, model) -> dict[str, dict[str, Any]]:
    """Stages an earlier attempt finished, in order, with the model of the last one loaded."""
    done: dict[str, dict[str, Any]] = {}
    for stage in stages:
        meta = ctx.checkpoints.stage_meta(stage.name)
        if meta is None or meta.get("tokenizer_hash") != ctx.tokenizer_hash:
            break
        done[stage.name] = {**meta["result"], "restored": True}
    if done:
        ctx.checkpoints.load_stage(list(done)[-1], model)
    return done
