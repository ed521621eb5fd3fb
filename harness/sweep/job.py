"""One submitit job: it carries one run or several, and for each builds the MLLM, trains its
stages, evaluates and writes the run's record.

A crash is caught and written as a failed record with its error (the traceback goes to
``error.log``), so the job goes on with its next run. The job is ``Checkpointable``: on
preemption or time-out it saves its state at the next safe point and is requeued; the requeued
job skips runs that already have a record, stages that already finished and benchmarks that
already have scores, and continues a stopped stage exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import socket
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import submitit

import harness
from harness.config import identity, to_plain
from harness.errors import HarnessError
from harness.record import (
    PREDICTIONS_DIR,
    RECORD_FILE,
    EncoderInfo,
    ResultRecord,
    Score,
    atomic_write_text,
    combine_infos,
    read_record,
    write_record,
)
from harness.sweep.checkpoint import RunCheckpoints, rng_state, set_rng_state
from harness.sweep.plan import Run
from harness.sweep.preempt import Preempted, Preemption

STATUS_FILE = "status.json"
ERROR_LOG = "error.log"
CHECKPOINT_EVERY_S = 1800.0
"""Also save inside a stage this often, against deaths no signal announces (node failure)."""


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
        self._job_id = _job_id()

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
            import torch

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
        from harness.train import LoopState

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


class RunJob(submitit.helpers.Checkpointable):
    """The callable submitted per job: ``RunJob()(run)`` or ``RunJob()([run, run, ...])``.

    Several runs per job share one process start (importing torch, transformers and timm
    costs seconds, a smoke run not many more); each run still writes its own record.
    """

    def __init__(self, checkpoint_every_s: float = CHECKPOINT_EVERY_S,
                 grace_s: float = 30.0, accelerate_config: str | None = None) -> None:
        self.checkpoint_every_s = checkpoint_every_s
        self.grace_s = grace_s
        self.accelerate_config = accelerate_config
        """An accelerate config file the job's Accelerator is built under (see
        ``harness.sweep.accelerate_config``); None: accelerate's environment as it is."""

    def __call__(self, runs: Run | Sequence[Run]) -> str | list[str]:
        from harness.sweep.accelerate_config import applied

        batch = [runs] if isinstance(runs, Run) else list(runs)
        _join_process_group()
        preemption = Preemption.install(self.grace_s)
        try:
            with applied(self.accelerate_config):
                statuses = [self.run_one(run, preemption) for run in batch]
        finally:
            if preemption is not None:
                preemption.uninstall()
        return statuses[0] if isinstance(runs, Run) else statuses

    def run_one(self, run: Run, preemption: Preemption | None = None) -> str:
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        existing = _existing_record(run)
        if existing is not None:
            # A requeued job (or a second job for the same run) never lands a second result.
            return existing.status
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        info = encoder_info(run)
        scores: tuple[Score, ...] = ()
        train: dict = {}
        error = None
        ctx = RunContext(run, preemption, self.checkpoint_every_s)
        ctx("starting", 0, 0, force=True)
        try:
            scores, train, params = execute(run, ctx)
            info = with_params(info, params)
        except (Preempted, SystemExit):
            raise
        except Exception as exc:  # any crash becomes a failed record, never a lost run
            if rank() == 0:
                (run_dir / ERROR_LOG).write_text(traceback.format_exc())
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if rank() != 0:
            return "failed" if error else "done"
        record = build_record(run, info, scores=scores, train=train, started=started,
                              seconds=time.perf_counter() - t0, error=error)
        write_record(run_dir, record)
        ctx(record.status, 1, 1, force=True)
        if record.status == "done":
            ctx.checkpoints.clear()
        return record.status

    def checkpoint(self, runs: Run | Sequence[Run]) -> submitit.helpers.DelayedSubmission:
        """submitit calls this on preemption or time-out; the state is already saved."""
        return submitit.helpers.DelayedSubmission(
            RunJob(self.checkpoint_every_s, self.grace_s, self.accelerate_config), runs)


def _existing_record(run: Run) -> ResultRecord | None:
    if not (Path(run.run_dir) / RECORD_FILE).exists():
        return None
    try:
        record = read_record(Path(run.run_dir))
    except (OSError, ValueError, HarnessError):
        return None
    return record if record.run_key == run.key else None


def _join_process_group() -> None:
    """In a multi-task SLURM job (one task per GPU), export the torch.distributed variables
    so that accelerate joins every task into one process group."""
    try:
        env = submitit.JobEnvironment()
    except RuntimeError:  # not inside a submitit job
        return
    if env.num_tasks > 1 and "RANK" not in os.environ:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def build_record(run: Run, info: EncoderInfo, *, scores: tuple[Score, ...] = (),
                 train: dict | None = None, started: datetime | None = None,
                 seconds: float = 0.0, error: str | None = None,
                 job_id: str | None = None) -> ResultRecord:
    now = datetime.now(UTC)
    return ResultRecord(
        run_key=run.key, status="failed" if error else "done", smoke=run.tiny,
        # A tiny twin is a smoke run whatever the preset claims.
        scale="full" if run.tiny else run.scale,
        encoder=info, recipe=run.config.recipe.name, llm=run.config.llm.id,
        connector=run.config.connector, seed=run.config.seed, preset=run.preset,
        config=identity(run.config), scores=scores, train=train or {},
        started_at=(started or now).isoformat(), finished_at=now.isoformat(),
        wall_seconds=round(seconds, 2), host=socket.gethostname(),
        job_id=_job_id() if job_id is None else job_id,
        code_version=harness.__version__, error=error,
    )


def failed_record(run: Run, error: str, job_id: str | None = None) -> ResultRecord:
    """A failed record written by the driver for a job that died without writing its own."""
    record = build_record(run, encoder_info(run), error=error, job_id=job_id)
    write_record(Path(run.run_dir), record)
    return record


def execute(run: Run, status: StatusWriter
            ) -> tuple[tuple[Score, ...], dict, tuple[int, ...]]:
    """Build, train and evaluate; returns the scores, per-stage training stats and each
    encoder's parameter count (one per member for a combination). Given a ``RunContext``,
    resume what an earlier attempt saved."""
    from harness.sweep.model import save_model

    work, train = _build(run, status)
    try:
        restored = _train_stages(work, train)
        scores = _evaluate_all(work, restored)
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
    import torch

    from harness.data import feature_cache
    from harness.parallel import make_parallel
    from harness.sweep.model import (
        build_model,
        distributed_for,
        enable_gradient_checkpointing,
        make_accelerator,
        tokenizer_hash,
    )

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
    from harness.data.conversations import ConversationDataset
    from harness.train import train_stage

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
    from harness.eval.benchmarks import BENCHMARKS
    from harness.eval.runner import EvalOptions, Shard, evaluate

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
    from harness.data.aspect import mean_colour, with_aspect
    from harness.model.ensemble import members

    return with_aspect(encoder.transform(), aspect, mean_colour(members(encoder)[0].mean))


def training_data(run: Run) -> tuple[dict[str, list[dict]], dict[str, Path], Path | None]:
    """Per stage, the conversations it trains on and the folder their images are relative
    to; and the run's generated probes' folder (None for a run on data-root sources). A source
    whose annotations changed since the plan fails the run: its key promised other data."""
    from harness.data.probes import write_probes
    from harness.data.sources import resolve_source, subsample
    from harness.sweep.data_check import current_hash

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
    from harness.data.probes import PROBE_BENCHMARKS
    from harness.eval.benchmarks import BENCHMARKS

    if name in PROBE_BENCHMARKS and probe_root is not None:
        return probe_root / PROBE_BENCHMARKS[name].folder
    return Path(run.data_root) / BENCHMARKS.get(name).data_folder


def parameter_counts(encoder) -> tuple[int, ...]:
    """Each encoder's parameter count, in the order the connector receives them."""
    from harness.model.ensemble import members

    return tuple(e.num_parameters() for e in members(encoder))


def with_params(info: EncoderInfo, counts: Sequence[int]) -> EncoderInfo:
    """``info`` with its parameter count; a combination's is the sum, and each member in
    ``parts`` gets its own."""
    if not info.parts:
        return dataclasses.replace(info, params=sum(counts))
    if len(counts) != len(info.parts):
        raise ValueError(f"{info.id} has {len(info.parts)} encoders, got {len(counts)} counts")
    parts = tuple(dataclasses.replace(p, params=n) for p, n in zip(info.parts, counts,
                                                                     strict=True))
    return dataclasses.replace(info, params=sum(counts), parts=parts)


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


def encoder_info(run: Run) -> EncoderInfo:
    """The run's encoder, or its combination of encoders (group ``multi``)."""
    parts = [_one_encoder_info(encoder_id, run.tiny) for encoder_id in run.encoder_ids]
    return parts[0] if len(parts) == 1 else combine_infos(parts)


def _one_encoder_info(encoder_id: str, tiny: bool) -> EncoderInfo:
    from harness.encoder import ENCODERS

    spec = ENCODERS.get(encoder_id)
    provenance = ENCODERS.provenance(encoder_id)
    return EncoderInfo(
        id=spec.id, group=spec.group, supervision=spec.supervision,
        architecture=spec.architecture,
        resolution=spec.tiny_resolution if tiny else spec.resolution, tiny=tiny,
        loader=spec.loader, source=spec.source, weights=None if tiny else spec.weights,
        distribution=provenance.distribution, distribution_version=provenance.version,
    )


def _job_id() -> str:
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job (called directly)
        return ""
