"""API fixtures: an app over a temporary SQLite store filled with synthetic runs (and, where a
test asks, Cambrian-1's published numbers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import Settings, create_app
from harness.published import read_builtin
from harness.store import ingest_records
from harness.store.published import import_published
from harness.store.synthetic import synthetic_records

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def filled_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Shared by a module's tests, which only read (writers make their own app)."""
    path = tmp_path_factory.mktemp("api") / "harness.db"
    app = create_app(Settings(db_url=f"sqlite:///{path}", token=TOKEN))
    ingest_records(app.state.store, synthetic_records(encoders=8, recipes=4, benchmarks=20,
                                                      seeds=2, smoke_every=4))
    import_published(app.state.store, read_builtin("cambrian-1"), "cambrian-1")
    return app


@pytest.fixture
def api(filled_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(filled_app, base_url="http://127.0.0.1") as client:
        yield client
