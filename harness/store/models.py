"""SQLAlchemy 2 tables of the store: encoders, runs, their scores and prediction files, and the
published reference scores that sit beside them (a second kind, never mixed into measured ones).

Timestamps are naive UTC: SQLite keeps no offset, so one convention holds on every backend.
The schema is owned by the Alembic migrations in ``harness/store/migrations``; a test checks
that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class EncoderRow(Base):
    __tablename__ = "encoders"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    group: Mapped[str] = mapped_column(String(50))
    supervision: Mapped[str] = mapped_column(String(50))
    architecture: Mapped[str] = mapped_column(String(50))
    resolution: Mapped[int] = mapped_column(Integer)
    # BIGINT on PostgreSQL: some encoders pass 2**31 parameters; SQLite's INTEGER is 64-bit.
    params: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    loader: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    weights: Mapped[str | None] = mapped_column(String(500), nullable=True)
    distribution: Mapped[str] = mapped_column(String(200), default="")
    distribution_version: Mapped[str] = mapped_column(String(50), default="")


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_setting", "recipe", "llm", "connector"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    encoder_id: Mapped[str] = mapped_column(ForeignKey("encoders.id"), index=True)
    tiny: Mapped[bool] = mapped_column(Boolean)
    smoke: Mapped[bool] = mapped_column(Boolean, index=True)
    recipe: Mapped[str] = mapped_column(String(100))
    llm: Mapped[str] = mapped_column(String(200))
    connector: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int] = mapped_column(Integer)
    preset: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """Hash of ``config`` as the planner computes it: equal to ``key`` for an honest record."""
    recipe_encoder: Mapped[str] = mapped_column(String(20), default="", server_default="")
    """``frozen`` or ``unfrozen`` (from the config), so comparisons pair runs in SQL."""
    recipe_stages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """1 (finetune only) or 2 (align, then finetune); 0 when the config does not say."""
    train: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """Per-stage training statistics from the record (steps, losses, seconds)."""
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    host: Mapped[str] = mapped_column(String(200), default="")
    job_id: Mapped[str] = mapped_column(String(100), default="")
    code_version: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_dir: Mapped[str] = mapped_column(Text, default="", server_default="")
    """The folder the record was read from ('' when it was posted): predictions live there."""
    # Hash of the whole record file, so a re-ingest can tell "unchanged" without a field diff.
    record_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)


class ScoreRow(Base):
    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("run_key", "benchmark", "metric", "subset", name="uq_scores_run_metric"),
        Index("ix_scores_benchmark_subset", "benchmark", "subset"),
        # The leaderboard's order: SQLite walks it and stops at the page's last row instead
        # of sorting every score (110 ms -> 1 ms over 45,000 scores; bench/store_api.py).
        Index("ix_scores_ranked", "subset", "benchmark", "metric", text("value DESC"),
              "run_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(ForeignKey("runs.key", ondelete="CASCADE"), index=True)
    benchmark: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(50), default="")
    metric: Mapped[str] = mapped_column(String(100))
    subset: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)
    chance: Mapped[float | None] = mapped_column(Float, nullable=True)
    benchmark_version: Mapped[str] = mapped_column(String(50), default="")
    prompt_hash: Mapped[str] = mapped_column(String(64), default="")
    label_patch: Mapped[str] = mapped_column(String(100), default="")
    dataset_hash: Mapped[str] = mapped_column(String(64), default="")


class PredictionFileRow(Base):
    """A run's per-item predictions for one benchmark (``predictions/<benchmark>.jsonl``)."""

    __tablename__ = "prediction_files"
    __table_args__ = (
        UniqueConstraint("run_key", "benchmark", name="uq_prediction_files_run_benchmark"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(ForeignKey("runs.key", ondelete="CASCADE"), index=True)
    benchmark: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(Text)
    """Relative to the run folder."""
    items: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class PublishedScoreRow(Base):
    """A number someone else published (a paper's figure or table), with where it came from.

    Kept in its own table so no measured aggregate can pick one up by accident.
    """

    __tablename__ = "published_scores"
    __table_args__ = (
        UniqueConstraint("source", "subject", "metric", name="uq_published_scores_entry"),
        Index("ix_published_scores_collection", "collection"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collection: Mapped[str] = mapped_column(String(200))
    """What was imported: ``cambrian-1`` or the file's name."""
    paper: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500))
    """The figure or table and its setting, as published."""
    subject: Mapped[str] = mapped_column(String(200))
    """The encoder, ensemble or model as the paper names it."""
    subject_kind: Mapped[str] = mapped_column(String(50))
    encoder_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    """The registry id the subject corresponds to, when there is one."""
    group: Mapped[str] = mapped_column(String(50), default="")
    supervision: Mapped[str] = mapped_column(String(50), default="")
    metric: Mapped[str] = mapped_column(String(100))
    """As published: a benchmark (``MME-P``), a category average or ``Average``."""
    level: Mapped[str] = mapped_column(String(20))
    """``benchmark``, ``category`` or ``average``."""
    category: Mapped[str] = mapped_column(String(50), default="")
    value: Mapped[float] = mapped_column(Float)
    """As published (MME-P stays on its 2000-point scale)."""
    imported_at: Mapped[datetime] = mapped_column(DateTime)
