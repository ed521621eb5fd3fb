"""SQLAlchemy 2 tables of the store: encoders, runs and their scores.

Timestamps are naive UTC: SQLite keeps no offset, so one convention holds on every backend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
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
    params: Mapped[int] = mapped_column(Integer, default=0)
    loader: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(500), default="")
    weights: Mapped[str | None] = mapped_column(String(500), nullable=True)
    distribution: Mapped[str] = mapped_column(String(200), default="")
    distribution_version: Mapped[str] = mapped_column(String(50), default="")


class RunRow(Base):
    __tablename__ = "runs"

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
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    host: Mapped[str] = mapped_column(String(200), default="")
    job_id: Mapped[str] = mapped_column(String(100), default="")
    code_version: Mapped[str] = mapped_column(String(100), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Hash of the whole record file, so a re-ingest can tell "unchanged" without a field diff.
    record_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)


class ScoreRow(Base):
    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("run_key", "benchmark", "metric", "subset", name="uq_scores_run_metric"),
        Index("ix_scores_benchmark_subset", "benchmark", "subset"),
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
