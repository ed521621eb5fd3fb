"""Fuzz every operation of the OpenAPI schema with schemathesis: with valid and with invalid
parameters and bodies, the answer is never a 5xx (bounded examples, to stay fast)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from api.settings import Settings
from harness.published import read_builtin
from harness.store import ingest_records
from harness.store.published import import_published
from harness.store.synthetic import synthetic_records

EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}


@pytest.fixture(scope="module")
def small_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A small store (every kind of row, few of each) keeps each fuzzed call cheap."""
    path = tmp_path_factory.mktemp("fuzz") / "h.db"
    # schemathesis's ASGI client sends Host "testserver", a name the server must be told of.
    app = create_app(Settings(db_url=f"sqlite:///{path}", token="fuzz-token",
                              allowed_hosts=("testserver",)))
    ingest_records(app.state.store, synthetic_records(encoders=4, recipes=4, benchmarks=6,
                                                      smoke_every=4))
    import_published(app.state.store, read_builtin("cambrian-1"), "cambrian-1")
    return app


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_5xx(small_app, mode: GenerationMode) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", small_app)
    # With the server's token, so generated bodies get past authentication to validation.
    headers = {"Authorization": f"Bearer {small_app.state.settings.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14  # every route is in the schema (pages are not)
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} query={case.query} "
                                f"body={str(case.body)[:200]} -> {response.status_code}: "
                                f"{response.text[:300]}")

        try:
            fuzz()
        except Unsatisfiable:
            continue  # no parameters to get wrong (e.g. /healthz)
    assert failures == []
