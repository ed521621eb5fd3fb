"""Store fixtures: every ``db_url`` test runs on SQLite and on PostgreSQL.

The PostgreSQL leg needs a server (``scripts/ci/start-postgres.sh`` starts one; ``.ci/run``
does so and fails if any test skipped). Each test gets a throw-away database of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from harness.store import Store

PG_URL_ENV = "HARNESS_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://app:app@127.0.0.1:55432/appdb"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means: no server for this leg
        reason = str(exc).splitlines()[0]
        pytest.skip(f"no PostgreSQL at {make_url(url)!r} ({reason}); start one with "
                    f"scripts/ci/start-postgres.sh or set ${PG_URL_ENV}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'harness.db'}"
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"harness_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    # No pooled connection may outlive this point: tests fork worker processes.
    admin.dispose()
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.dispose()
