"""The store's read queries, as functions of a session: filters, pagination and plain dicts out.

Every list query returns ``(items, total)`` where ``total`` counts the matches before
``limit``/``offset``, so an API can page through thousands of runs without loading them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from harness.eval.bootstrap import Draws
from harness.record import MEASURED, EncoderInfo, ResultRecord, Score
from harness.store.columns import field_names, iso, plain_values, selected
from harness.store.models import (
    RUN_COLUMN_NAMES,
    EncoderRow,
    PredictionFileRow,
    PublishedScoreRow,
    ReplicatesRow,
    RunRow,
    ScoreRow,
)

Page = tuple[list[dict[str, Any]], int]
KEYS_PER_QUERY = 500
"""Run keys per ``IN (...)`` list: well under every backend's bound-parameter limit."""

SCORE_FIELDS = field_names(Score)
ENCODER_FIELDS = field_names(EncoderInfo)
RUN_FIELDS = ("run_key", "encoder_id", "tiny",
              *(f for f in field_names(ResultRecord) if f not in ("run_key", "config", "train")),
              "ingested_at")
"""What a run's summary shows: its record's fields (its config and training statistics are
left to the detail) and what the store knows of it."""
RUN_DETAIL_FIELDS = ("config", "config_hash", "train", "run_dir", "record_hash")
"""What the run detail adds to the summary (besides the encoder, scores and prediction files)."""

LEADERBOARD_COLUMNS = (
    EncoderRow.id.label("encoder_id"), EncoderRow.group, EncoderRow.supervision,
    EncoderRow.architecture, RunRow.tiny, RunRow.smoke, RunRow.scale, RunRow.recipe, RunRow.llm,
    RunRow.connector, RunRow.seed, *selected(ScoreRow, SCORE_FIELDS),
    RunRow.key.label("run_key"),
)
"""One leaderboard row: the encoder, the run's setting, and every field of the score."""
_PUBLISHED_COLUMNS = tuple(
    getattr(PublishedScoreRow, name) for name in (
        "collection", "paper", "source", "subject", "subject_kind", "encoder_id", "connector",
        "group",
        "supervision", "metric", "level", "category", "value", "imported_at")
)
SCORE_COLUMNS = (
    RunRow.key.label("run_key"), EncoderRow.id.label("encoder_id"), EncoderRow.group,
    RunRow.recipe, RunRow.llm, RunRow.connector, RunRow.seed, RunRow.smoke,
    *selected(ScoreRow, SCORE_FIELDS),
)
"""One row of ``scores``: which run it belongs to, then every field of the score."""


def _page(session: Session, query: Select[Any], limit: int | None, offset: int) -> tuple[Any, int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return session.execute(query), int(total or 0)


def _where(query: Select[Any], pairs: list[tuple[Any, Any]]) -> Select[Any]:
    for column, value in pairs:
        if value is not None:
            query = query.where(column == value)
    return query


# -- leaderboard and scores ------------------------------------------------------------------


def leaderboard(
    session: Session,
    *,
    benchmark: str | None = None,
    subset: str = "overall",
    include_smoke: bool = True,
    group: str | None = None,
    recipe: str | None = None,
    llm: str | None = None,
    category: str | None = None,
    encoder: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """One row per score of a finished run on ``subset``, best first within a benchmark."""
    # Plain columns, not ORM objects: building thousands of mapped instances costs more
    # than the query itself.
    query = (
        select(*LEADERBOARD_COLUMNS)
        .join(RunRow, ScoreRow.run_key == RunRow.key)
        .join(EncoderRow, RunRow.encoder_id == EncoderRow.id)
        .where(RunRow.status == "done", ScoreRow.subset == subset, ScoreRow.kind == MEASURED)
        .order_by(ScoreRow.benchmark, ScoreRow.metric, ScoreRow.value.desc(), ScoreRow.run_key)
    )
    query = _where(query, [(ScoreRow.benchmark, benchmark), (EncoderRow.group, group),
                           (RunRow.recipe, recipe), (RunRow.llm, llm),
                           (ScoreRow.category, category), (RunRow.encoder_id, encoder)])
    if not include_smoke:
        query = query.where(RunRow.smoke.is_(False))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row._mapping) for row in session.execute(query)]


def scores(
    session: Session,
    *,
    run_key: str | None = None,
    encoder: str | None = None,
    benchmark: str | None = None,
    metric: str | None = None,
    subset: str | None = None,
    category: str | None = None,
    recipe: str | None = None,
    llm: str | None = None,
    group: str | None = None,
    include_smoke: bool = True,
    status: str | None = "done",
    limit: int | None = None,
    offset: int = 0,
) -> Page:
    query = (
        select(*SCORE_COLUMNS)
        .join(RunRow, ScoreRow.run_key == RunRow.key)
        .join(EncoderRow, RunRow.encoder_id == EncoderRow.id)
        .order_by(RunRow.key, ScoreRow.benchmark, ScoreRow.metric, ScoreRow.subset)
    )
    query = _where(query, [(ScoreRow.run_key, run_key), (RunRow.encoder_id, encoder),
                           (ScoreRow.benchmark, benchmark), (ScoreRow.metric, metric),
                           (ScoreRow.subset, subset), (ScoreRow.category, category),
                           (RunRow.recipe, recipe), (RunRow.llm, llm), (EncoderRow.group, group),
                           (RunRow.status, status)])
    if not include_smoke:
        query = query.where(RunRow.smoke.is_(False))
    result, total = _page(session, query, limit, offset)
    return [dict(row._mapping) for row in result], total


# -- runs and encoders -----------------------------------------------------------------------


def runs(
    session: Session,
    *,
    status: str | None = None,
    encoder: str | None = None,
    recipe: str | None = None,
    llm: str | None = None,
    preset: str | None = None,
    smoke: bool | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Page:
    query = select(RunRow).order_by(RunRow.finished_at.desc(), RunRow.key)
    query = _where(query, [(RunRow.status, status), (RunRow.encoder_id, encoder),
                           (RunRow.recipe, recipe), (RunRow.llm, llm), (RunRow.preset, preset),
                           (RunRow.smoke, smoke)])
    result, total = _page(session, query, limit, offset)
    return [_run_dict(run) for (run,) in result], total


def run_detail(session: Session, key: str) -> dict[str, Any] | None:
    run = session.get(RunRow, key)
    if run is None:
        return None
    encoder = session.get(EncoderRow, run.encoder_id)
    score_rows = session.scalars(
        select(ScoreRow).where(ScoreRow.run_key == key)
        .order_by(ScoreRow.benchmark, ScoreRow.metric, ScoreRow.subset)
    )
    files = session.scalars(
        select(PredictionFileRow).where(PredictionFileRow.run_key == key)
        .order_by(PredictionFileRow.benchmark)
    )
    return {
        **_run_dict(run),
        **{name: _run_value(run, name) for name in RUN_DETAIL_FIELDS},
        "train": run.train or {},
        "encoder": _encoder_dict(encoder) if encoder else None,
        "scores": [_score_fields(s) for s in score_rows],
        "prediction_files": [
            {"benchmark": f.benchmark, "path": f.path, "items": f.items, "sha256": f.sha256}
            for f in files
        ],
    }


def encoders(
    session: Session,
    *,
    group: str | None = None,
    supervision: str | None = None,
    architecture: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Page:
    counts = (
        select(RunRow.encoder_id, func.count().label("runs"))
        .group_by(RunRow.encoder_id).subquery()
    )
    query = (
        select(EncoderRow, func.coalesce(counts.c.runs, 0))
        .outerjoin(counts, counts.c.encoder_id == EncoderRow.id)
        .order_by(EncoderRow.id)
    )
    query = _where(query, [(EncoderRow.group, group), (EncoderRow.supervision, supervision),
                           (EncoderRow.architecture, architecture)])
    result, total = _page(session, query, limit, offset)
    return [{**_encoder_dict(e), "runs": n} for e, n in result], total


def encoder(session: Session, encoder_id: str) -> dict[str, Any] | None:
    row = session.get(EncoderRow, encoder_id)
    if row is None:
        return None
    n = session.scalar(select(func.count()).where(RunRow.encoder_id == encoder_id))
    return {**_encoder_dict(row), "runs": int(n or 0)}


def run_keys_by_status(session: Session) -> dict[str, str]:
    return dict(session.execute(select(RunRow.key, RunRow.status)).all())


def distinct(session: Session, column: str, benchmark: str | None = None) -> list[str]:
    col = getattr(ScoreRow, column)
    query = select(col).distinct().order_by(col)
    if benchmark is not None:
        query = query.where(ScoreRow.benchmark == benchmark)
    return list(session.scalars(query))


def choices(session: Session) -> dict[str, list[str]]:
    """Every value each filter can take, from the data (for error messages and the UI)."""

    def values(column: Any) -> list[str]:
        return [v for v in session.scalars(select(column).distinct().order_by(column)) if v]

    return {
        "group": values(EncoderRow.group),
        "supervision": values(EncoderRow.supervision),
        "architecture": values(EncoderRow.architecture),
        "encoder": values(EncoderRow.id),
        "recipe": values(RunRow.recipe),
        "llm": values(RunRow.llm),
        "connector": values(RunRow.connector),
        "preset": values(RunRow.preset),
        "benchmark": values(ScoreRow.benchmark),
        "category": values(ScoreRow.category),
        "metric": values(ScoreRow.metric),
    }


# -- aggregates ------------------------------------------------------------------------------


def data_version(session: Session) -> tuple[Any, ...]:
    """Changes whenever a run or a published score is added or replaced (a cache key)."""
    runs_now = session.execute(select(func.count(), func.max(RunRow.ingested_at))).one()
    published_now = session.execute(
        select(func.count(), func.max(PublishedScoreRow.imported_at))
    ).one()
    return (*runs_now, *published_now)


def published(
    session: Session,
    *,
    collection: str | None = None,
    encoder: str | None = None,
    subject: str | None = None,
    level: str | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    query = select(*_PUBLISHED_COLUMNS).order_by(PublishedScoreRow.id)
    query = _where(query, [(PublishedScoreRow.collection, collection),
                           (PublishedScoreRow.encoder_id, encoder),
                           (PublishedScoreRow.subject, subject), (PublishedScoreRow.level, level),
                           (PublishedScoreRow.source, source)])
    return [{**row._mapping, "imported_at": iso(row.imported_at)}
            for row in session.execute(query)]


# -- rows as plain dicts ---------------------------------------------------------------------


def _score_fields(score: ScoreRow) -> dict[str, Any]:
    return plain_values(score, Score)


def _encoder_dict(e: EncoderRow) -> dict[str, Any]:
    return plain_values(e, EncoderInfo)


def _run_dict(run: RunRow) -> dict[str, Any]:
    return {name: _run_value(run, name) for name in RUN_FIELDS}


def _run_value(run: RunRow, name: str) -> Any:
    value = getattr(run, RUN_COLUMN_NAMES.get(name, name))
    return iso(value) if isinstance(value, datetime) else value


def replicates(session: Session, keys: list[str]) -> dict[str, dict[tuple[str, str, str], Draws]]:
    """The kept bootstrap draws of these runs: run key -> (benchmark, metric, subset) ->
    draws (``harness.store.noise`` pools and pairs them)."""
    out: dict[str, dict[tuple[str, str, str], Draws]] = {}
    query = select(ReplicatesRow.run_key, ReplicatesRow.benchmark, ReplicatesRow.metric,
                   ReplicatesRow.subset, ReplicatesRow.units, ReplicatesRow.draws)
    for i in range(0, len(keys), KEYS_PER_QUERY):
        chunk = query.where(ReplicatesRow.run_key.in_(keys[i:i + KEYS_PER_QUERY]))
        for run_key, benchmark, metric, subset, units, draws in session.execute(chunk):
            out.setdefault(run_key, {})[(benchmark, metric, subset)] = Draws(
                np.frombuffer(draws, dtype="<f4").astype(np.float64), units)
    return out
