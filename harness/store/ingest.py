"""Load result records into the store idempotently: a record read twice is written once.

The run folder stays the source of truth, so a record whose file changed replaces its run row
and scores; one that did not change costs a single primary-key lookup. Safe with many writers
at once (jobs, drivers, the API): a lost insert race is retried as an update.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import BigInteger, delete, insert, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from harness.config import stable_hash
from harness.errors import HarnessError
from harness.eval.bootstrap import from_bytes
from harness.model.connector_options import current_name
from harness.record import (
    EVAL_DIR,
    PREDICTIONS_DIR,
    RECORD_FILE,
    ResultRecord,
    read_record,
)
from harness.store.columns import row_values
from harness.store.models import (
    RUN_COLUMN_NAMES,
    EncoderRow,
    PredictionFileRow,
    ReplicatesRow,
    RunRow,
    ScoreRow,
)
from harness.store.store import Store

log = logging.getLogger(__name__)
Outcome = Literal["added", "updated", "unchanged"]
WRITE_ATTEMPTS = 4
"""A lost race costs one retry; more covers a PostgreSQL deadlock or serialization abort."""


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


def ingest_record(store: Store, record: ResultRecord, run_dir: Path | None = None) -> bool:
    """Upsert one record; True when the store changed. ``run_dir``: the folder it came from,
    whose ``predictions/*.jsonl`` are indexed with it."""
    return ingest_outcome(store, record, run_dir) != "unchanged"


def ingest_outcome(store: Store, record: ResultRecord, run_dir: Path | None = None) -> Outcome:
    """Like ``ingest_record``, but says whether the record was added, updated or unchanged."""
    return _ingest(store, record, run_dir)


def ingest_records(store: Store, records: Iterable[ResultRecord], batch: int = 500
                   ) -> IngestReport:
    """Many records, ``batch`` per transaction (a bulk load: one commit per batch instead of
    per record). A batch that loses a race is redone record by record."""
    report = IngestReport()
    pending: list[ResultRecord] = []

    def flush() -> None:
        for record in pending:
            check_record(record)
        try:
            with store.session(write=True) as session:
                outcomes = _write_batch(session, pending)
        except (IntegrityError, OperationalError):
            outcomes = [_ingest(store, r) for r in pending]
        for outcome in outcomes:
            setattr(report, outcome, getattr(report, outcome) + 1)
        pending.clear()

    for record in records:
        pending.append(record)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return report


def _write_batch(session: Session, records: list[ResultRecord]) -> list[Outcome]:
    """``_write`` for many records with one flush: existing runs and encoders are looked up
    in one query each, and new rows go in together (the unit of work orders encoders before
    the runs that refer to them)."""
    keys = {r.run_key for r in records}
    existing = {run.key: run for run in session.scalars(
        select(RunRow).where(RunRow.key.in_(keys)))}
    encoders = {e.id: e for e in session.scalars(
        select(EncoderRow).where(EncoderRow.id.in_({r.encoder.id for r in records})))}
    outcomes: list[Outcome] = []
    scores: list[dict] = []
    for record in records:
        digest = record_hash(record)
        run = existing.get(record.run_key)
        if run is not None:
            # Rare in a bulk load: the update path, with its own flushes.
            session.flush()
            outcomes.append(_write(session, record, digest))
            continue
        encoder = encoders.get(record.encoder.id)
        if encoder is None:
            encoder = encoders[record.encoder.id] = EncoderRow(id=record.encoder.id)
            session.add(encoder)
        _set_encoder_fields(encoder, record)
        run = existing[record.run_key] = RunRow(key=record.run_key)
        _fill_run(run, record, digest)
        run.run_dir = ""
        session.add(run)
        scores.extend(_score_fields(record))
        outcomes.append("added")
    # Runs first (the scores refer to them), then every score in one multi-row INSERT: far
    # cheaper than one ORM object per score.
    session.flush()
    if scores:
        session.execute(insert(ScoreRow), scores)
    return outcomes


def ingest_paths(store: Store, paths: Iterable[Path]) -> IngestReport:
    """Ingest record files (or run folders holding one); a bad file is reported, not raised."""
    report = IngestReport()
    for path in paths:
        try:
            path = Path(path)
            run_dir = path if path.is_dir() else path.parent
            outcome = _ingest(store, read_record(path), run_dir)
        # A malformed file can fail anywhere in parsing; one bad run must not stop the rest.
        except (HarnessError, DataError, IntegrityError, OSError, ValueError, TypeError,
                OverflowError) as exc:
            report.errors.append((Path(path), f"{type(exc).__name__}: {exc}"))
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def record_hash(record: ResultRecord) -> str:
    return hashlib.sha256(record.to_json().encode()).hexdigest()


def _ingest(store: Store, record: ResultRecord, run_dir: Path | None = None) -> Outcome:
    check_record(record)
    digest = record_hash(record)
    files = _run_files(run_dir) if run_dir is not None else RunFiles()
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with store.session(write=True) as session:
                return _write(session, record, digest, run_dir, files)
        except (IntegrityError, OperationalError):
            # Another writer inserted the same encoder or run between our lookup and our
            # insert (IntegrityError), or PostgreSQL chose us as a deadlock victim: the rows
            # may exist now, so the retry takes the update or unchanged path.
            if attempt == WRITE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _write(session: Session, record: ResultRecord, digest: str, run_dir: Path | None = None,
           files: RunFiles | None = None) -> Outcome:
    run = session.get(RunRow, record.run_key)
    if run is not None and run.record_hash == digest:
        files = files or RunFiles()
        moved = run_dir is not None and run.run_dir != str(run_dir)
        if moved or (files.replicates and not _has_draws(session, record.run_key)):
            # The same record found in a moved folder (follow it, the scores stay), or with
            # bootstrap draws the store lacks (a run ingested before they were kept).
            run.run_dir = str(run_dir)
            _replace_run_files(session, record.run_key, files)
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
    if run_dir is not None or outcome == "added":
        run.run_dir = "" if run_dir is None else str(run_dir)
    session.flush()
    _replace_run_files(session, record.run_key, files or RunFiles())
    session.add_all(_score_rows(record))
    return outcome


def _score_rows(record: ResultRecord) -> list[ScoreRow]:
    return [ScoreRow(**fields) for fields in _score_fields(record)]


def _score_fields(record: ResultRecord) -> list[dict]:
    return [{"run_key": record.run_key, **row_values(s)} for s in record.scores]


def _upsert_encoder(session: Session, record: ResultRecord) -> None:
    row = session.get(EncoderRow, record.encoder.id)
    if row is None:
        row = EncoderRow(id=record.encoder.id)
        session.add(row)
    _set_encoder_fields(row, record)
    # Flushed now so the run's foreign key finds it on PostgreSQL, which checks immediately.
    session.flush()


def _set_encoder_fields(row: EncoderRow, record: ResultRecord) -> None:
    for name, value in row_values(record.encoder).items():
        setattr(row, name, value)


def _fill_run(run: RunRow, record: ResultRecord, digest: str) -> None:
    for name, value in row_values(record, rename=RUN_COLUMN_NAMES).items():
        setattr(run, name, value)
    run.encoder_id = record.encoder.id
    run.tiny = record.encoder.tiny
    run.connector = _connector_name(record)
    run.config_hash = stable_hash(record.config)
    recipe = record.config.get("recipe") if isinstance(record.config, dict) else None
    recipe = recipe if isinstance(recipe, dict) else {}
    stages = recipe.get("stages")
    run.recipe_encoder = str(recipe.get("encoder") or "")[:20]
    run.recipe_stages = len(stages) if isinstance(stages, list) else 0
    run.record_hash = digest
    run.ingested_at = datetime.now(UTC).replace(tzinfo=None)


def _connector_name(record: ResultRecord) -> str:
    """The connector as this installation names it: a sweep run of sva from before it became
    Cambrian's module (its config names the connector, without a version) is shown as what it
    is, sva-lite, never averaged with the new module's runs under one name."""
    config = record.config if isinstance(record.config, dict) else {}
    if config.get("connector") != record.connector:
        return record.connector  # not a sweep's config: nothing says which version it was
    version = config.get("connector_version", 1)
    return current_name(record.connector, version if isinstance(version, int) else 1)


def _check_columns(record: ResultRecord, table: type, obj: object, prefix: str) -> None:
    """Strings that fit their column and carry no NUL, integers that fit theirs, on every
    backend alike (SQLite would store what PostgreSQL rejects)."""
    for column in table.__table__.columns:
        name = {"key": "run_key", "encoder_id": ""}.get(column.name, column.name)
        if not name or not hasattr(obj, name):
            continue
        value = getattr(obj, name)
        where = f"run {record.run_key[:64]}: {prefix}{name}"
        if isinstance(value, str):
            length = getattr(column.type, "length", None)
            if length is not None and len(value) > length:
                raise HarnessError(f"{where} is {len(value)} characters long; at most {length}")
            if "\x00" in value:
                raise HarnessError(f"{where} contains a NUL character")
        elif isinstance(value, int) and not isinstance(value, bool):
            limit = 2**63 if isinstance(column.type, BigInteger) else 2**31
            if not -limit <= value < limit:
                raise HarnessError(f"{where} = {value} is out of range (|value| < {limit})")


@dataclass
class RunFiles:
    """What a run folder holds beside its record, as rows to store."""

    predictions: list[dict] = field(default_factory=list)
    replicates: list[dict] = field(default_factory=list)


def _run_files(run_dir: Path) -> RunFiles:
    """Per-item predictions next to the record, with item count and content hash, and the
    bootstrap draws kept beside them: the sweep's ``predictions/<benchmark>.jsonl`` and
    ``harness eval``'s ``eval/<benchmark>.jsonl``. Where both name a benchmark, the later
    evaluation's files are the ones kept (its scores replaced the sweep's in the record)."""
    found: dict[str, Path] = {}
    drawn: dict[tuple[str, str, str], dict] = {}
    for folder in (PREDICTIONS_DIR, EVAL_DIR):
        for path in sorted((run_dir / folder).glob("*.jsonl")):
            found[path.stem] = path
        for path in sorted((run_dir / folder).glob("*.replicates.npz")):
            for row in _replicate_rows(path):
                drawn[(row["benchmark"], row["metric"], row["subset"])] = row
    out = RunFiles(replicates=list(drawn.values()))
    for benchmark, path in sorted(found.items()):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # a file being rewritten; the next ingest picks it up
        out.predictions.append({
            "benchmark": benchmark,
            "path": path.relative_to(run_dir).as_posix(),
            "items": sum(1 for line in data.splitlines() if line.strip()),
            "sha256": hashlib.sha256(data).hexdigest(),
        })
    return out


def _replicate_rows(path: Path) -> list[dict]:
    """A replicates file's draws as rows; an unreadable file is left out (the scores keep
    their own intervals; only the pooled ones miss this run) and said in the log."""
    try:
        drawn = from_bytes(path.read_bytes())
    except (OSError, ValueError) as exc:
        log.warning("%s: bootstrap draws not read (%s)", path, exc)
        return []
    return [{"benchmark": drawn.benchmark, "metric": metric, "subset": subset,
             "units": drawn.units, "resamples": drawn.settings.resamples,
             "seed": drawn.settings.seed, "draws": values.astype("<f4").tobytes()}
            for (metric, subset), values in sorted(drawn.values.items())]


def _has_draws(session: Session, run_key: str) -> bool:
    return session.scalar(select(ReplicatesRow.id).where(ReplicatesRow.run_key == run_key)
                          .limit(1)) is not None


def _replace_run_files(session: Session, run_key: str, files: RunFiles) -> None:
    session.execute(delete(PredictionFileRow).where(PredictionFileRow.run_key == run_key))
    session.execute(delete(ReplicatesRow).where(ReplicatesRow.run_key == run_key))
    session.add_all(PredictionFileRow(run_key=run_key, **f) for f in files.predictions)
    session.add_all(ReplicatesRow(run_key=run_key, **r) for r in files.replicates)


def check_record(record: ResultRecord) -> None:
    """Reject what the database would store wrongly or the API could not serve back."""
    if not record.run_key.strip():
        raise HarnessError("record: run_key is empty")
    if not record.encoder.id.strip():
        raise HarnessError(f"run {record.run_key}: encoder id is empty")
    if not isinstance(record.config, dict):
        raise HarnessError(f"run {record.run_key}: config must be a JSON object")
    try:
        json.dumps([record.config, record.train], allow_nan=False)
    except ValueError as exc:
        raise HarnessError(f"run {record.run_key}: config or train stats: {exc}") from None
    if not math.isfinite(record.wall_seconds):
        raise HarnessError(f"run {record.run_key}: wall_seconds is {record.wall_seconds}")
    _check_columns(record, RunRow, record, prefix="")
    _check_columns(record, EncoderRow, record.encoder, prefix="encoder.")
    for score in record.scores:
        _check_columns(record, ScoreRow, score, prefix=f"score {score.benchmark}.")
    seen: set[tuple[str, str, str]] = set()
    for s in record.scores:
        key = (s.benchmark, s.metric, s.subset)
        if key in seen:
            raise HarnessError(f"run {record.run_key}: score {'/'.join(key)} appears twice")
        seen.add(key)
        problem = s.problem()
        if problem is not None:
            raise HarnessError(f"run {record.run_key}: {problem}")
