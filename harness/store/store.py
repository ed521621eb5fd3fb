"""The store object: owns the engine and its sessions, and answers the dashboard's queries.

Tables are made with ``create_all`` for now; Alembic migrations replace that in a later issue.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from harness.store.models import Base, EncoderRow, RunRow, ScoreRow

DEFAULT_DB_URL = "sqlite:///harness-runs/harness.db"
DB_URL_ENV = "HARNESS_DB_URL"
SQLITE_BUSY_TIMEOUT_MS = 5000


def resolve_db_url(db: str | None) -> str:
    """The --db flag, else $HARNESS_DB_URL, else the SQLite file under harness-runs/."""
    return db or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


class Store:
    """An index of result records in any SQLAlchemy database (SQLite by default)."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        if create:
            self.create_all()

    @classmethod
    def from_env(cls, default_url: str = DEFAULT_DB_URL) -> Store:
        return cls(os.environ.get(DB_URL_ENV) or default_url)

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error, closed either way."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def leaderboard(
        self, benchmark: str | None = None, subset: str = "overall", include_smoke: bool = True
    ) -> list[dict[str, Any]]:
        """One row per score of a finished run on ``subset``, best first within a benchmark."""
        query = (
            select(ScoreRow, RunRow, EncoderRow)
            .join(RunRow, ScoreRow.run_key == RunRow.key)
            .join(EncoderRow, RunRow.encoder_id == EncoderRow.id)
            .where(RunRow.status == "done", ScoreRow.subset == subset)
            .order_by(ScoreRow.benchmark, ScoreRow.metric, ScoreRow.value.desc(), RunRow.key)
        )
        if benchmark is not None:
            query = query.where(ScoreRow.benchmark == benchmark)
        if not include_smoke:
            query = query.where(RunRow.smoke.is_(False))
        with self.session() as session:
            return [_leaderboard_row(s, r, e) for s, r, e in session.execute(query)]

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every run (without its config), newest first."""
        query = select(RunRow).order_by(RunRow.finished_at.desc(), RunRow.key)
        if status is not None:
            query = query.where(RunRow.status == status)
        with self.session() as session:
            return [_run_dict(run) for run in session.scalars(query)]

    def run_keys_by_status(self) -> dict[str, str]:
        with self.session() as session:
            return dict(session.execute(select(RunRow.key, RunRow.status)).all())

    def benchmarks(self) -> list[str]:
        with self.session() as session:
            query = select(ScoreRow.benchmark).distinct().order_by(ScoreRow.benchmark)
            return list(session.scalars(query))

    def subsets(self, benchmark: str | None = None) -> list[str]:
        query = select(ScoreRow.subset).distinct().order_by(ScoreRow.subset)
        if benchmark is not None:
            query = query.where(ScoreRow.benchmark == benchmark)
        with self.session() as session:
            return list(session.scalars(query))


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        path = Path(database.removeprefix("file:").split("?")[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the dashboard read while an ingest writes; busy_timeout waits out a writer
    # instead of failing with "database is locked"; SQLite ignores foreign keys unless asked.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def _leaderboard_row(score: ScoreRow, run: RunRow, encoder: EncoderRow) -> dict[str, Any]:
    return {
        "encoder_id": encoder.id,
        "group": encoder.group,
        "supervision": encoder.supervision,
        "architecture": encoder.architecture,
        "tiny": run.tiny,
        "smoke": run.smoke,
        "recipe": run.recipe,
        "llm": run.llm,
        "connector": run.connector,
        "seed": run.seed,
        "benchmark": score.benchmark,
        "category": score.category,
        "metric": score.metric,
        "subset": score.subset,
        "value": score.value,
        "n": score.n,
        "chance": score.chance,
        "run_key": run.key,
    }


def _run_dict(run: RunRow) -> dict[str, Any]:
    return {
        "run_key": run.key,
        "encoder_id": run.encoder_id,
        "tiny": run.tiny,
        "smoke": run.smoke,
        "recipe": run.recipe,
        "llm": run.llm,
        "connector": run.connector,
        "seed": run.seed,
        "preset": run.preset,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "wall_seconds": run.wall_seconds,
        "host": run.host,
        "job_id": run.job_id,
        "code_version": run.code_version,
        "error": run.error,
        "ingested_at": _iso(run.ingested_at),
    }
