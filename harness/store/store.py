"""The store object: owns the engine and its sessions, keeps the schema at the current Alembic
revision, and answers the API's and dashboard's queries (``harness.store.queries``)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from harness.errors import HarnessError
from harness.store import queries, schema
from harness.store.noise import RunDraws
from harness.store.rollup import SettingsRollup
from harness.store.summary import Setting

DEFAULT_DB_URL = "sqlite:///harness-runs/harness.db"
DB_URL_ENV = "HARNESS_DB_URL"
# Long enough for a few dozen jobs queueing for the write lock at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def resolve_db_url(db: str | None) -> str:
    """The --db flag, else $HARNESS_DB_URL, else the SQLite file under harness-runs/. A
    password in the flag is warned about: every local user reads a process's arguments."""
    if db and _password(db):
        print(f"warning: --db {redacted(db)} carries a password, which other users of this "
              f"machine can read from the process list; set ${DB_URL_ENV} instead",
              file=sys.stderr)
    return db or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def _password(url: str) -> bool:
    try:
        return bool(make_url(url).password)
    except Exception:  # an unparsable URL is reported where it is opened
        return False


def redacted(url: str) -> str:
    """A database URL fit to print: its password masked (``***``)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as nothing rather than leaked
        return "(unreadable database URL)"


VALID_URLS = "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


def database_error(url: str | None, exc: BaseException) -> HarnessError:
    """One line for a database that cannot be used: its URL (password masked; None when not
    known) and the cause, in place of the driver's many-line traceback."""
    if isinstance(exc, NoSuchModuleError):
        cause = f"unknown backend ({_first_line(exc)}); valid: {VALID_URLS}"
    elif isinstance(exc, ArgumentError | ValueError):
        cause = f"not a database URL ({_first_line(exc)}); valid: {VALID_URLS}"
    elif isinstance(exc, ImportError):
        cause = f"its driver is not installed ({_first_line(exc)})"
    elif isinstance(exc, OSError) and exc.strerror:
        cause = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        # The driver's own message, without SQLAlchemy's SQL echo and link.
        cause = _first_line(exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc)
    password = _password(url)
    # In case a driver echoes its connection string; a very short password would only mangle
    # the message (and is no secret worth the name).
    if password and len(password) >= 4:
        cause = cause.replace(password, "***")
    return HarnessError(f"database {redacted(url)}: {cause}" if url else f"database: {cause}")


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)


def _password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return make_url(url).password
    except Exception:  # an unparsable URL: there is no password to find in it
        return None


class Store:
    """An index of result records in any SQLAlchemy database (SQLite by default).

    ``create=True`` (the default) upgrades the schema to the current revision on open, so a
    fresh file or a skeleton-era database just works; ``create=False`` touches nothing.
    """

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        try:
            self.engine = _make_engine(url)
        except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
            raise database_error(url, exc) from exc
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        # Writes on SQLite take the write lock up front (BEGIN IMMEDIATE): a deferred
        # transaction that upgrades from read to write fails at once under contention instead
        # of waiting out the busy timeout.
        self._write_sessions = sessionmaker(
            bind=self.engine.execution_options(harness_write=True), expire_on_commit=False
        )
        self._cache_lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[Any, ...], Any]] = {}
        # Aggregates per setting, updated from the runs that changed (harness.store.rollup).
        self._rollup = SettingsRollup()
        if create and not schema.is_current(self.engine):
            try:
                self.upgrade()
            except BaseException:
                self.engine.dispose()  # no pooled connection outlives a store never returned
                raise

    @classmethod
    def from_env(cls, default_url: str = DEFAULT_DB_URL) -> Store:
        return cls(os.environ.get(DB_URL_ENV) or default_url)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> schema.UpgradeResult:
        """Run the Alembic migrations up to ``revision`` (``harness db upgrade``); a database
        that cannot be opened or written is a one-line HarnessError."""
        try:
            return schema.upgrade(self.engine, revision)
        except SQLAlchemyError as exc:
            raise database_error(self.url, exc) from exc

    def create_all(self) -> None:
        """Kept for callers of the skeleton's API: the schema comes from the migrations now."""
        self.upgrade()

    def revision(self) -> str | None:
        try:
            return schema.current_revision(self.engine)
        except SQLAlchemyError as exc:
            raise database_error(self.url, exc) from exc

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error, closed either way.

        ``write=True`` for sessions that change rows (see ``__init__`` for why it matters).
        """
        session = (self._write_sessions if write else self._sessions)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- queries (the SQL lives in harness.store.queries) ------------------------------------

    def leaderboard(
        self,
        benchmark: str | None = None,
        subset: str = "overall",
        include_smoke: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """One row per score of a finished run on ``subset``, best first within a benchmark.

        ``filters``: group, recipe, llm, category, encoder, limit, offset.
        """
        with self.session() as session:
            return queries.leaderboard(session, benchmark=benchmark, subset=subset,
                                       include_smoke=include_smoke, **filters)

    def runs(self, status: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Runs (without their config), newest first; ``filters`` as ``queries.runs``."""
        with self.session() as session:
            return queries.runs(session, status=status, **filters)[0]

    def runs_page(self, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """Like ``runs`` but also the total count before ``limit``/``offset``."""
        with self.session() as session:
            return queries.runs(session, **filters)

    def run(self, key: str) -> dict[str, Any] | None:
        """One run with its config, provenance, scores and prediction files."""
        with self.session() as session:
            return queries.run_detail(session, key)

    def encoders(self, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        with self.session() as session:
            return queries.encoders(session, **filters)

    def encoder(self, encoder_id: str) -> dict[str, Any] | None:
        with self.session() as session:
            return queries.encoder(session, encoder_id)

    def scores(self, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        with self.session() as session:
            return queries.scores(session, **filters)

    def run_keys_by_status(self) -> dict[str, str]:
        with self.session() as session:
            return queries.run_keys_by_status(session)

    def benchmarks(self) -> list[str]:
        with self.session() as session:
            return queries.distinct(session, "benchmark")

    def subsets(self, benchmark: str | None = None) -> list[str]:
        with self.session() as session:
            return queries.distinct(session, "subset", benchmark=benchmark)

    def choices(self) -> dict[str, list[str]]:
        """The values each filter can take (groups, recipes, LLMs, ...), for messages and UIs;
        cached until the data changes."""
        return self.cached("choices", queries.choices)

    def settings(self) -> list[Setting]:
        """Finished runs' overall scores averaged over seeds, one entry per setting
        (runs whose configs differ only in the seed, ``summary.setting_key``); cached until the
        data changes."""
        return self.cached("settings", self._rollup.refresh)

    def setting_runs(self, setting: Setting) -> list[str]:
        """The finished runs (one per seed) a setting averages."""
        self.settings()  # brings the rollup up to date
        return self._rollup.members(setting.key)

    def run_draws(self, keys: list[str]) -> list[RunDraws]:
        """Finished runs with their overall and Table 5 scores and kept bootstrap draws
        (``harness.store.noise``); keys of unfinished or unknown runs are left out."""
        self.settings()
        with self.session() as session:
            return self._rollup.run_draws(session, keys)

    def data_version(self) -> tuple[Any, ...]:
        """Changes whenever a run or a published score is added or replaced."""
        with self.session() as session:
            return queries.data_version(session)

    def cached(self, name: str, compute: Any) -> Any:
        """``compute(session)``, kept under ``name`` until the data changes."""
        # Aggregates over every score are the expensive reads; the data version (row counts
        # and newest ingest time) is one cheap query, so a page view after the first costs
        # that query alone until something is ingested.
        with self.session() as session:
            version = queries.data_version(session)
            with self._cache_lock:
                hit = self._cache.get(name)
                if hit is not None and hit[0] == version:
                    return hit[1]
            value = compute(session)
        with self._cache_lock:
            self._cache[name] = (version, value)
        return value

    def benchmark_versions(self, include_smoke: bool = True) -> list[dict[str, Any]]:
        """Per benchmark, the variants (version, prompt, label patch, dataset) scored under;
        cached until the data changes."""
        self.settings()  # brings the rollup up to date
        return self.cached(f"versions-{include_smoke}",
                           lambda _session: self._rollup.benchmark_versions(include_smoke))

    def published(self, **filters: Any) -> list[dict[str, Any]]:
        """Published reference scores (never part of ``settings``); the unfiltered list is
        cached until the data changes."""
        if not any(v is not None for v in filters.values()):
            return self.cached("published", queries.published)
        with self.session() as session:
            return queries.published(session, **filters)


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
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off: it neither begins before DDL nor lets us
    # choose IMMEDIATE, so _sqlite_begin emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # busy_timeout first: switching to WAL needs a lock that another process may hold.
    # WAL lets the dashboard read while an ingest writes; SQLite ignores foreign keys unless
    # asked.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    write = conn.get_execution_options().get("harness_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
