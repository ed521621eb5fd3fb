"""Bring a database's schema to the current revision with Alembic, safely under concurrency.

Many jobs may open the store at once, so an upgrade holds a lock (PostgreSQL: an advisory lock;
SQLite: the BEGIN IMMEDIATE write lock) and re-reads the revision under it. A database made by
the walking skeleton's ``create_all`` (tables, no alembic_version) is stamped ``0001`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from harness.errors import HarnessError

MIGRATIONS = Path(__file__).parent / "migrations"
SKELETON_REVISION = "0001"
# Any constant works; it only has to be the same in every process that migrates this store.
PG_LOCK_ID = 0x4841524E  # "HARN"


@dataclass(frozen=True)
class UpgradeResult:
    before: str | None
    after: str
    stamped: bool = False
    """True when a skeleton database (tables, no revision) was adopted at ``0001``."""

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    """True when the database is at head (one cheap read; no lock taken)."""
    try:
        return current_revision(engine) == head_revision()
    except Exception:  # e.g. a revision this version of the package does not know
        return False


def upgrade(engine: Engine, revision: str = "head") -> UpgradeResult:
    """Migrate to ``revision`` (default head) under a lock; a no-op when already there."""
    script = ScriptDirectory.from_config(alembic_config())
    write_engine = engine.execution_options(harness_write=True)
    with write_engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": PG_LOCK_ID})
            conn.commit()
        try:
            with conn.begin():
                # Under the lock: whoever waited sees the revision the winner left behind.
                before = MigrationContext.configure(conn).get_current_revision()
                _check_known(script, before)
                stamped = before is None and _has_skeleton_tables(conn)
                config = alembic_config(conn)
                if stamped:
                    command.stamp(config, SKELETON_REVISION)
                command.upgrade(config, revision)
                after = MigrationContext.configure(conn).get_current_revision()
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": PG_LOCK_ID})
                conn.commit()
    assert after is not None
    return UpgradeResult(before=before, after=after, stamped=stamped)


def _check_known(script: ScriptDirectory, revision: str | None) -> None:
    if revision is None:
        return
    known = [s.revision for s in script.walk_revisions()]
    if revision not in known:
        raise HarnessError(
            f"the database is at schema revision {revision!r}, which this version of the harness"
            f" does not know (known: {', '.join(sorted(known))}); upgrade the package"
        )


def _has_skeleton_tables(conn: Connection) -> bool:
    tables = set(inspect(conn).get_table_names())
    return {"encoders", "runs", "scores"} <= tables
