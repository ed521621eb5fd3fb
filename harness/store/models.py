"""SQLAlchemy 2 tables of the store: encoders, runs, their scores and prediction files, and the
published reference scores that sit beside them (a second kind, never mixed into measured ones).

The encoders, runs and scores tables take their columns from the result contract
(``harness.record``) through ``harness.store.columns``; only what the store itself derives is
written here. Timestamps are naive UTC: SQLite keeps no offset, so one convention holds on
every backend.
The schema is owned by the Alembic migrations in ``harness/store/migrations``; a test checks
that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from harness.record import EncoderInfo, ResultRecord, Score
from harness.store.columns import sql_columns


class Base(DeclarativeBase):
    pass


RUN_COLUMN_NAMES = {"run_key": "key"}
"""Record fields whose column has another name (the run's key is the runs table's key)."""


class EncoderRow(Base):
    """One row per encoder (or combination), its columns those of ``EncoderInfo``."""

    __table__ = Table("encoders", Base.metadata, *sql_columns(EncoderInfo, primary_key="id"))


class RunRow(Base):
    """One row per run: the record's own fields, then what the store derives from it."""

    __table__ = Table(
        "runs", Base.metadata,
        *sql_columns(ResultRecord, rename=RUN_COLUMN_NAMES, primary_key="key"),
        Column("encoder_id", ForeignKey("encoders.id"), nullable=False, index=True),
        Column("tiny", Boolean, nullable=False, doc="The encoder was a random-weight twin."),
        Column("config_hash", String(64), nullable=False, default="", server_default="",
               doc="Hash of ``config`` as the planner computes it: equal to ``key`` for an "
                   "honest record."),
        Column("recipe_encoder", String(20), nullable=False, default="", server_default="",
               doc="``frozen`` or ``unfrozen`` (from the config), so comparisons pair runs "
                   "in SQL."),
        Column("recipe_stages", Integer, nullable=False, default=0, server_default="0",
               doc="1 (finetune only) or 2 (align, then finetune); 0 when the config does "
                   "not say."),
        Column("setting_hash", String(12), nullable=False, default="", server_default="",
               doc="Hash of the run's config without its seed: runs with equal hashes are "
                   "seeds of one setting ('' when the record carries no config)."),
        Column("run_dir", Text, nullable=False, default="", server_default="",
               doc="The folder the record was read from ('' when it was posted): "
                   "predictions live there."),
        # Hash of the whole record file, so a re-ingest can tell "unchanged" without a diff.
        Column("record_hash", String(64), nullable=False),
        Column("ingested_at", DateTime, nullable=False),
        Index("ix_runs_setting", "recipe", "llm", "connector"),
    )


class ScoreRow(Base):
    """One row per score of a run, its columns those of ``Score``."""

    __table__ = Table(
        "scores", Base.metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_key", ForeignKey("runs.key", ondelete="CASCADE"), nullable=False,
               index=True),
        *sql_columns(Score),
        UniqueConstraint("run_key", "benchmark", "metric", "subset",
                         name="uq_scores_run_metric"),
        Index("ix_scores_benchmark_subset", "benchmark", "subset"),
        # The leaderboard's order: SQLite walks it and stops at the page's last row instead
        # of sorting every score (110 ms -> 1 ms over 45,000 scores; bench/store_api.py).
        Index("ix_scores_ranked", "subset", "benchmark", "metric", text("value DESC"),
              "run_key"),
    )


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


class ReplicatesRow(Base):
    """A run's bootstrap draws of one overall or Table 5 score (``harness.eval.bootstrap``):
    what the settings' two-stage intervals and ``harness compare`` are computed from."""

    __tablename__ = "score_replicates"
    __table_args__ = (
        UniqueConstraint("run_key", "benchmark", "metric", "subset",
                         name="uq_score_replicates_run_metric"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(ForeignKey("runs.key", ondelete="CASCADE"), index=True)
    benchmark: Mapped[str] = mapped_column(String(100))
    metric: Mapped[str] = mapped_column(String(100))
    subset: Mapped[str] = mapped_column(String(200))
    units: Mapped[str] = mapped_column(String(16))
    """Digest of the units drawn over: runs with equal digests were drawn alike."""
    resamples: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    draws: Mapped[bytes] = mapped_column(LargeBinary)
    """``resamples`` little-endian float32 values."""


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
    connector: Mapped[str] = mapped_column(String(100), default="", server_default="")
    """The connector the number was measured with, as this harness names it (Table 2's
    ``concat(grid=24)``); empty when the source does not say or it is the default."""
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
