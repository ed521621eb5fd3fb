"""A run's result record: built from what the run produced (or the error that stopped it),
with the encoders' provenance and parameter counts."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import harness
from harness.config import identity
from harness.encoder import ENCODERS
from harness.errors import HarnessError
from harness.record import (
    RECORD_FILE,
    EncoderInfo,
    ResultRecord,
    Score,
    combine_infos,
    read_record,
    write_record,
)
from harness.sweep.plan import Run
from harness.sweep.status import current_job_id


def existing_record(run: Run) -> ResultRecord | None:
    if not (Path(run.run_dir) / RECORD_FILE).exists():
        return None
    try:
        record = read_record(Path(run.run_dir))
    except (OSError, ValueError, HarnessError):
        return None
    return record if record.run_key == run.key else None


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
        job_id=current_job_id() if job_id is None else job_id,
        code_version=harness.__version__, error=error,
    )


def failed_record(run: Run, error: str, job_id: str | None = None) -> ResultRecord:
    """A failed record written by the driver for a job that died without writing its own."""
    record = build_record(run, encoder_info(run), error=error, job_id=job_id)
    write_record(Path(run.run_dir), record)
    return record


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


def encoder_info(run: Run) -> EncoderInfo:
    """The run's encoder, or its combination of encoders (group ``multi``)."""
    parts = [single_encoder_info(encoder_id, run.tiny) for encoder_id in run.encoder_ids]
    return parts[0] if len(parts) == 1 else combine_infos(parts)


def single_encoder_info(encoder_id: str, tiny: bool) -> EncoderInfo:

    spec = ENCODERS.get(encoder_id)
    provenance = ENCODERS.provenance(encoder_id)
    return EncoderInfo(
        id=spec.id, group=spec.group, supervision=spec.supervision,
        architecture=spec.architecture,
        resolution=spec.tiny_resolution if tiny else spec.resolution, tiny=tiny,
        loader=spec.loader, source=spec.source, weights=None if tiny else spec.weights,
        distribution=provenance.distribution, distribution_version=provenance.version,
    )
