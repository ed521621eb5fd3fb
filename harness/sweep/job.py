"""One run as a submitit job: build the MLLM, train its stages, evaluate, write the record.

A crash is caught and written as a failed record with its error, so the sweep goes on and the
driver can report it; the full traceback goes to ``error.log`` in the run folder.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import submitit

import harness
from harness.config import to_plain
from harness.errors import HarnessError
from harness.sweep.plan import Run
from harness.sweep.record import (
    EncoderInfo,
    ResultRecord,
    Score,
    atomic_write_text,
    write_record,
)

STATUS_FILE = "status.json"


class StatusWriter:
    """Writes ``status.json`` (stage, step, loss) for the driver's progress bars; throttled so
    a fast loop does not spend its time on file I/O."""

    def __init__(self, run_dir: Path, every_s: float = 0.5) -> None:
        self.path = run_dir / STATUS_FILE
        self.every_s = every_s
        self._last = 0.0

    def __call__(self, stage: str, step: int, total: int, loss: float | None = None,
                 force: bool = False) -> None:
        now = time.monotonic()
        if not force and step < total and now - self._last < self.every_s:
            return
        self._last = now
        atomic_write_text(self.path, json.dumps(
            {"stage": stage, "step": step, "total": total, "loss": loss, "time": time.time()}))


def read_status(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None


class RunJob(submitit.helpers.Checkpointable):
    """Callable submitted once per run. Checkpointable so SLURM preemption can requeue it."""

    def __call__(self, run: Run) -> str:
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        info = _encoder_info(run)
        scores: tuple[Score, ...] = ()
        train: dict = {}
        error = None
        try:
            scores, train, params = execute(run, StatusWriter(run_dir))
            info = dataclasses.replace(info, params=params)
        except Exception as exc:  # any crash becomes a failed record, never a lost run
            (run_dir / "error.log").write_text(traceback.format_exc())
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        record = build_record(run, info, scores=scores, train=train, started=started,
                              seconds=time.perf_counter() - t0, error=error)
        write_record(run_dir, record)
        return record.status


def build_record(run: Run, info: EncoderInfo, *, scores: tuple[Score, ...] = (),
                 train: dict | None = None, started: datetime | None = None,
                 seconds: float = 0.0, error: str | None = None) -> ResultRecord:
    now = datetime.now(UTC)
    return ResultRecord(
        run_key=run.key, status="failed" if error else "done", smoke=run.tiny,
        encoder=info, recipe=run.config.recipe.name, llm=run.config.llm.id,
        connector=run.config.connector, seed=run.config.seed, preset=run.preset,
        config=to_plain(run.config), scores=scores, train=train or {},
        started_at=(started or now).isoformat(), finished_at=now.isoformat(),
        wall_seconds=round(seconds, 2), host=socket.gethostname(), job_id=_job_id(),
        code_version=harness.__version__, error=error,
    )


def failed_record(run: Run, error: str) -> ResultRecord:
    """A failed record written by the driver for a job that died without writing its own."""
    record = build_record(run, _encoder_info(run), error=error)
    write_record(Path(run.run_dir), record)
    return record


def execute(run: Run, status: StatusWriter) -> tuple[tuple[Score, ...], dict, int]:
    """Build, train and evaluate; returns the scores, per-stage training stats and the
    encoder's parameter count."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import set_seed

    from harness.data.conversations import ConversationDataset, load_conversations
    from harness.data.probe import write_probe
    from harness.encoder import ENCODERS, build_encoder
    from harness.eval.benchmarks import BENCHMARKS
    from harness.eval.runner import evaluate
    from harness.model.connectors import CONNECTORS, FeatureShape
    from harness.model.llm import build_llm, image_token_id
    from harness.model.mllm import MLLM
    from harness.train import train_stage

    config = run.config
    data = config.data
    files = write_probe(Path(run.data_dir), seed=data.seed, n_align=data.n_align,
                        n_train=data.n_train, n_test=data.n_test, image_size=data.image_size)
    align_rows = load_conversations(files.align)
    train_rows = load_conversations(files.train)

    set_seed(config.seed)
    encoder = build_encoder(ENCODERS.get(run.encoder_id), tiny=run.tiny)
    corpus = [t["value"] for r in align_rows + train_rows for t in r["conversations"]]
    llm, tokenizer = build_llm(config.llm, corpus)
    connector = CONNECTORS.get(config.connector).create(
        [FeatureShape(encoder.embed_dim, encoder.grid)], llm.config.hidden_size)
    model = MLLM(encoder, connector, llm, image_token_id(tokenizer))
    image_tokens = model.num_image_tokens

    # One accelerate state per process: a debug executor runs many jobs in one process.
    AcceleratorState._reset_state(reset_partial_state=True)
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),
        mixed_precision="bf16" if config.recipe.precision == "bf16" else "no",
    )
    model = accelerator.prepare(model)
    transform = encoder.transform()
    stage_data = {"align": align_rows, "finetune": train_rows}
    train: dict = {}
    for stage in config.recipe.stages:
        dataset = ConversationDataset(
            stage_data[stage.name], files.root, tokenizer, transform,
            num_image_tokens=image_tokens, max_length=config.recipe.max_length,
            system=config.llm.system_prompt)
        result = train_stage(accelerator.unwrap_model(model), stage, config.recipe, dataset,
                             micro_batch=run.micro_batch, accelerator=accelerator,
                             seed=config.seed, on_step=status)
        train[stage.name] = to_plain(result)

    scores: list[Score] = []
    for fingerprint in config.benchmarks:
        benchmark = BENCHMARKS.get(fingerprint["name"])
        status(f"eval:{benchmark.name}", 0, 1, force=True)
        with accelerator.autocast():
            scores += evaluate(accelerator.unwrap_model(model), tokenizer, benchmark,
                               files.root, transform, batch_size=run.eval_batch,
                               predictions_file=Path(run.run_dir) / "predictions"
                               / f"{benchmark.name}.jsonl", system=config.llm.system_prompt)
        status(f"eval:{benchmark.name}", 1, 1, force=True)
    if not scores:
        raise HarnessError("no scores: the preset names no benchmark")
    return tuple(scores), train, encoder.num_parameters()


def _encoder_info(run: Run) -> EncoderInfo:
    from harness.encoder import ENCODERS

    spec = ENCODERS.get(run.encoder_id)
    provenance = ENCODERS.provenance(run.encoder_id)
    return EncoderInfo(
        id=spec.id, group=spec.group, supervision=spec.supervision,
        architecture=spec.architecture,
        resolution=spec.tiny_resolution if run.tiny else spec.resolution, tiny=run.tiny,
        loader=spec.loader, source=spec.source, weights=None if run.tiny else spec.weights,
        distribution=provenance.distribution, distribution_version=provenance.version,
    )


def _job_id() -> str:
    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job (called directly)
        return ""
