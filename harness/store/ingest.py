"""Load result records into the store idempotently: a record read twice is written once.

The run folder stays the source of truth, so a record whose file changed replaces its run row
and scores; one that did not change costs a single primary-key lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import delete
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from harness.errors import HarnessError
from harness.store.models import EncoderRow, RunRow, ScoreRow
from harness.store.store import Store
from harness.sweep.record import RECORD_FILE, ResultRecord, read_record

Outcome = Literal["added", "updated", "unchanged"]


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[Path, str]] = field(default_factory=list)
    """``(path, message)`` for each record that could not be read or written."""

    @property
    def ok(self) -> bool:
        return not self.errors


def find_records(root: Path) -> list[Path]:
    """Every ``record.json`` under ``root`` (a run folder or a folder of run folders)."""
    return sorted(Path(root).rglob(RECORD_FILE))


def ingest_record(store: Store, record: ResultRecord) -> bool:
    """Upsert one record; True when the store changed."""
    return _ingest(store, record) != "unchanged"


def ingest_paths(store: Store, paths: Iterable[Path]) -> IngestReport:
    """Ingest record files (or run folders holding one); a bad file is reported, not raised."""
    report = IngestReport()
    for path in paths:
        try:
            outcome = _ingest(store, read_record(Path(path)))
        # A malformed file can fail anywhere in parsing; one bad run must not stop the rest.
        except (HarnessError, DataError, IntegrityError, OSError, ValueError, TypeError) as exc:
            report.errors.append((Path(path), f"{type(exc).__name__}: {exc}"))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def record_hash(record: ResultRecord) -> str:
    return hashlib.sha256(record.to_json().encode()).hexdigest()


def _ingest(store: Store, record: ResultRecord) -> Outcome:
    _check_unique_scores(record)
    digest = record_hash(record)
    try:
        with store.session() as session:
            return _write(session, record, digest)
    except IntegrityError:
        # Another writer inserted the same encoder or run between our lookup and our insert:
        # the rows exist now, so one retry takes the update path.
        with store.session() as session:
            return _write(session, record, digest)


def _write(session: Session, record: ResultRecord, digest: str) -> Outcome:
    run = session.get(RunRow, record.run_key)
    if run is not None and run.record_hash == digest:
        return "unchanged"
    _upsert_encoder(session, record)
    outcome: Outcome = "updated" if run is not None else "added"
    if run is None:
        run = RunRow(key=record.run_key)
        session.add(run)
    else:
        # Delete before inserting: the replacement scores reuse the (run, benchmark, metric,
        # subset) keys, and a flush would otherwise insert them while the old rows still exist.
        session.execute(delete(ScoreRow).where(ScoreRow.run_key == record.run_key))
    _fill_run(run, record, digest)
    session.flush()
    session.add_all(
        ScoreRow(
            run_key=record.run_key,
            benchmark=s.benchmark,
            category=s.category,
            metric=s.metric,
            subset=s.subset,
            value=s.value,
            n=s.n,
            chance=s.chance,
            benchmark_version=s.benchmark_version,
            prompt_hash=s.prompt_hash,
            label_patch=s.label_patch,
            dataset_hash=s.dataset_hash,
        )
        for s in record.scores
    )
    return outcome


def _upsert_encoder(session: Session, record: ResultRecord) -> None:
    info = record.encoder
    row = session.get(EncoderRow, info.id)
    if row is None:
        row = EncoderRow(id=info.id)
        session.add(row)
    row.group = info.group
    row.supervision = info.supervision
    row.architecture = info.architecture
    row.resolution = info.resolution
    row.params = info.params
    row.loader = info.loader
    row.source = info.source
    row.weights = info.weights
    row.distribution = info.distribution
    row.distribution_version = info.distribution_version
    # Flushed now so the run's foreign key finds it on PostgreSQL, which checks immediately.
    session.flush()


def _fill_run(run: RunRow, record: ResultRecord, digest: str) -> None:
    run.encoder_id = record.encoder.id
    run.tiny = record.encoder.tiny
    run.smoke = record.smoke
    run.recipe = record.recipe
    run.llm = record.llm
    run.connector = record.connector
    run.seed = record.seed
    run.preset = record.preset
    run.status = record.status
    run.config = record.config
    run.started_at = _utc(record.started_at, "started_at")
    run.finished_at = _utc(record.finished_at, "finished_at")
    run.wall_seconds = record.wall_seconds
    run.host = record.host
    run.job_id = record.job_id
    run.code_version = record.code_version
    run.error = record.error
    run.record_hash = digest
    run.ingested_at = datetime.now(UTC).replace(tzinfo=None)


def _utc(text: str, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HarnessError(f"{name}: not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _check_unique_scores(record: ResultRecord) -> None:
    seen: set[tuple[str, str, str]] = set()
    for s in record.scores:
        key = (s.benchmark, s.metric, s.subset)
        if key in seen:
            raise HarnessError(f"run {record.run_key}: score {'/'.join(key)} appears twice")
        seen.add(key)
