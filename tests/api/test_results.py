"""``POST /api/v1/results``: closed without a token, open to its bearer only, idempotent, and
a malformed record is a 4xx naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from harness.store.synthetic import synthetic_records

TOKEN = "correct horse battery staple"


def body() -> dict:
    record = next(synthetic_records(encoders=1, recipes=1, benchmarks=3))
    return json.loads(record.to_json())


@pytest.fixture
def writer(tmp_path: Path):  # type: ignore[no-untyped-def]
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", token=TOKEN))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_closed_without_a_configured_token(tmp_path: Path) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.post("/api/v1/results", json=body(), headers=auth("anything"))
        assert response.status_code == 403 and "--token-file" in response.json()["detail"]
        assert client.get("/api/v1/runs").json()["total"] == 0


@pytest.mark.parametrize("headers", [{}, auth("wrong"), auth(TOKEN + "x"),
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_missing_or_wrong_token_is_401(writer: TestClient, headers: dict) -> None:
    response = writer.post("/api/v1/results", json=body(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert writer.get("/api/v1/runs").json()["total"] == 0


def test_post_is_idempotent_and_replaces_a_changed_record(writer: TestClient) -> None:
    record = body()
    first = writer.post("/api/v1/results", json=record, headers=auth())
    assert first.status_code == 201 and first.json() == {"run_key": record["run_key"],
                                                         "outcome": "added"}
    again = writer.post("/api/v1/results", json=record, headers=auth())
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    record["scores"][0]["value"] = 99.0
    changed = writer.post("/api/v1/results", json=record, headers=auth())
    assert changed.json()["outcome"] == "updated"
    detail = writer.get(f"/api/v1/runs/{record['run_key']}").json()
    assert detail["run_dir"] == "" and 99.0 in [s["value"] for s in detail["scores"]]
    assert writer.get("/api/v1/runs").json()["total"] == 1


@pytest.mark.parametrize(("change", "expect"), [
    (lambda r: r.pop("run_key"), "run_key"),
    (lambda r: r.update(status="exploded"), "status"),
    (lambda r: r.update(surprise=1), "surprise"),
    (lambda r: r.update(recipe="x" * 101), "recipe is 101 characters"),
    (lambda r: r["encoder"].update(id="a\x00b"), "NUL"),
    (lambda r: r.update(seed=2**40), "out of range"),
    (lambda r: r["scores"].append(dict(r["scores"][0])), "appears twice"),
    (lambda r: r.update(config=[1, 2]), "config"),
])
def test_malformed_records_are_422_with_a_reason(writer: TestClient, change, expect) -> None:
    record = body()
    change(record)
    response = writer.post("/api/v1/results", json=record, headers=auth())
    assert response.status_code == 422, response.text
    assert expect in response.text
    assert writer.get("/api/v1/runs").json()["total"] == 0


def test_non_finite_score_is_rejected(writer: TestClient) -> None:
    record = body()
    record["scores"][0]["value"] = float("nan")
    raw = json.dumps(record)  # Python writes NaN, as a careless client would
    response = writer.post("/api/v1/results", content=raw, headers={
        **auth(), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert writer.get("/api/v1/runs").json()["total"] == 0
