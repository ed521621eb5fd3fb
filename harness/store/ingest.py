"""Load result records into the store idempotently: a record read twice is written once.

The run folder stays the source of truth, so a record whose file changed replaces its run row
and scores; one that did not change costs a primary-key lookup and a look at its folder's file
index (refreshed when the files beside it changed). Safe with many writers at once (jobs,
drivers, the API): a lost insert race is retried as an update.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
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
from harness.eval.benchmarks import declared_range
from harness.model.connector_options import current_name
from harness.record import RECORD_FILE, ResultRecord, Score
from harness.store.columns import row_values
from harness.store.models import (
    RUN_COLUMN_NAMES,
    EncoderRow,
    PredictionFileRow,
    ReplicatesRow,
    RunRow,
    ScoreRow,
)
from harness.store.run_files import RunFiles, read_run_files, signature
from harness.store.safe_read import FILE_LIMIT, RECORD_LIMIT, read_regular
from harness.store.scan import scan_records
from harness.store.store import Store, database_error

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
    """``(path, message)`` for each record, run folder or file beside a record that could not
    be read or written (a record whose predictions file was refused is still stored)."""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """``(folder, why)`` for each folder left out by design (a symlink; ``scan_records``)."""

    @property
    def ok(self) -> bool:
        return not self.errors


def find_records(root: Path) -> list[Path]:
    """Every ``record.json`` under ``root`` (a run folder or a folder of run folders); the
    folders not looked into are logged (``scan_records`` returns them)."""
    scan = scan_records(root)
    for path, why in scan.errors + scan.skipped:
        log.warning("%s: %s", path, why)
    return scan.records


def ingest_root(store: Store, root: Path, file_limit: int = FILE_LIMIT) -> IngestReport:
    """``harness ingest``: every run folder under ``root``, with the folders that could not be
    read among the errors and the symlinks not followed listed as skipped."""
    scan = scan_records(root)
    report = ingest_paths(store, scan.records, file_limit)
    report.errors[:0] = scan.errors
    report.skipped.extend(scan.skipped)
    return report


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


def ingest_paths(store: Store, paths: Iterable[Path], file_limit: int = FILE_LIMIT
                 ) -> IngestReport:
    """Ingest record files (or run folders holding one); a bad file is reported, not raised.

    Only regular files are read (a FIFO or a device is an error for its path), a record of at
    most ``RECORD_LIMIT`` bytes and files beside it of at most ``file_limit``. A database
    that refuses writes (read-only, gone) stops the ingest with one HarnessError."""
    report = IngestReport()
    for path in paths:
        path = Path(path)
        try:
            run_dir, record = read_run(path)
            files = read_run_files(run_dir, file_limit)
            outcome = _ingest(store, record, run_dir, files)
        except OperationalError as exc:  # still failing after the retries: not this run's fault
            raise database_error(store.url, exc) from exc
        # A malformed file can fail anywhere in parsing; one bad run must not stop the rest.
        # RecursionError: a record nested hundreds of levels deep, which JSON allows.
        except (HarnessError, DataError, IntegrityError, OSError, ValueError, TypeError,
                OverflowError, RecursionError) as exc:
            report.errors.append((path, f"{type(exc).__name__}: {str(exc)[:300]}"))
            continue
        report.errors.extend(files.problems)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def read_run(path: Path) -> tuple[Path, ResultRecord]:
    """(run folder, absolute and resolved; its record) for a run folder or its record file.

    The record must name the run its folder is named after (``runs/<run_key>/``): a record
    copied or moved into another run's folder would otherwise replace that run's data."""
    is_dir = path.is_dir()
    file = path / RECORD_FILE if is_dir else path
    record = ResultRecord.from_dict(json.loads(read_regular(file, RECORD_LIMIT)),
                                    where=str(file))
    folder = Path(os.path.abspath(path if is_dir else path.parent))
    if record.run_key != folder.name:
        raise HarnessError(f"record of run {record.run_key[:80]!r} in the folder of run "
                           f"{folder.name[:80]!r}: a run's record must lie in runs/<run_key>/; "
                           "not ingested")
    return folder.resolve(), record


def record_hash(record: ResultRecord) -> str:
    return hashlib.sha256(record.to_json().encode()).hexdigest()


def _ingest(store: Store, record: ResultRecord, run_dir: Path | None = None,
            files: RunFiles | None = None) -> Outcome:
    check_record(record)
    digest = record_hash(record)
    if run_dir is not None:
        # Absolute and resolved: a server started in another directory must find it too.
        run_dir = Path(run_dir).resolve()
        if files is None:
            files = read_run_files(run_dir)
            for path, problem in files.problems:
                log.warning("%s: %s", path, problem)
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
    """Add, replace or leave the run. Its file index changes only with a folder to read it
    from: a record posted without one (``run_dir`` None) keeps the files of an earlier
    ingest from a folder."""
    run = session.get(RunRow, record.run_key)
    files = files or RunFiles()
    if run is not None and run.record_hash == digest:
        if run_dir is not None and (run.run_dir != str(run_dir)
                                    or _stored_files(session, run.key) != files.signature()):
            # The same record found in a moved folder (follow it, the scores stay), or beside
            # files that changed since: predictions completed or made readable, draws added.
            run.run_dir = str(run_dir)
            run.ingested_at = _now()
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
    if run_dir is not None:
        _replace_run_files(session, record.run_key, files)
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
    run.setting_hash = setting_hash(record)
    recipe = record.config.get("recipe") if isinstance(record.config, dict) else None
    recipe = recipe if isinstance(recipe, dict) else {}
    stages = recipe.get("stages")
    run.recipe_encoder = str(recipe.get("encoder") or "")[:20]
    run.recipe_stages = len(stages) if isinstance(stages, list) else 0
    run.record_hash = digest
    run.ingested_at = _now()


def setting_hash(record: ResultRecord) -> str:
    """What makes runs seeds of one setting: the resolved config without its seed (a recipe
    edited under the same name is another setting), with the encoder, recipe, LLM and
    connector names, which a partial config (a posted record's) may leave out. Not the preset:
    presets that differ only outside the run key give one setting. '' without a config."""
    config = record.config
    if not isinstance(config, dict) or not config:
        return ""
    return stable_hash({"config": {k: v for k, v in config.items() if k != "seed"},
                        "names": [record.encoder.id, record.recipe, record.llm,
                                  record.connector]})


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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


def _stored_files(session: Session, run_key: str) -> tuple[frozenset, frozenset]:
    """The run's file index as stored, comparable with ``RunFiles.signature``."""
    predictions = session.execute(
        select(PredictionFileRow.benchmark, PredictionFileRow.path, PredictionFileRow.items,
               PredictionFileRow.sha256).where(PredictionFileRow.run_key == run_key))
    replicates = session.execute(
        select(ReplicatesRow.benchmark, ReplicatesRow.metric, ReplicatesRow.subset,
               ReplicatesRow.units, ReplicatesRow.resamples, ReplicatesRow.seed,
               ReplicatesRow.draws).where(ReplicatesRow.run_key == run_key))
    return signature([dict(row._mapping) for row in predictions],
                     [dict(row._mapping) for row in replicates])


def _replace_run_files(session: Session, run_key: str, files: RunFiles) -> None:
    session.execute(delete(PredictionFileRow).where(PredictionFileRow.run_key == run_key))
    session.execute(delete(ReplicatesRow).where(ReplicatesRow.run_key == run_key))
    session.add_all(PredictionFileRow(run_key=run_key, **f) for f in files.predictions)
    session.add_all(ReplicatesRow(run_key=run_key, **r) for r in files.replicates)


def _outside_declared_range(score: Score) -> str | None:
    """A score that states no range is held to its benchmark's declared one, where this
    installation knows it: one 1e9 must never become a leaderboard mean."""
    if score.range_min is not None or score.range_max is not None:
        return None  # Score.problem checked the range it carries
    declared = declared_range(score.benchmark, score.metric)
    if declared is None or declared[0] <= score.value <= declared[1]:
        return None
    return (f"score {score.benchmark}/{score.metric}/{score.subset} = {score.value:g} is "
            f"outside its metric's declared range {declared[0]:g}..{declared[1]:g}")


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
        problem = s.problem() or _outside_declared_range(s)
        if problem is not None:
            raise HarnessError(f"run {record.run_key}: {problem}")
