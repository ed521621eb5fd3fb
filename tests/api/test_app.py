"""The FastAPI app over a temporary SQLite store: JSON routes, the page and local plotly.js."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import get_store
from api.settings import Settings
from harness.record import EncoderInfo, ResultRecord, Score
from harness.store import Store, ingest_record


def make_record(key: str, encoder: str, group: str, smoke: bool, value: float) -> ResultRecord:
    return ResultRecord(
        run_key=key,
        status="done",
        smoke=smoke,
        encoder=EncoderInfo(encoder, group, "language", "vit", 224, tiny=smoke),
        recipe="llava15",
        llm="tiny-llm",
        connector="mlp2x_gelu",
        seed=0,
        preset="smoke",
        config={},
        scores=(
            Score("probe", "accuracy", "overall", value, 100, chance=25.0),
            Score("probe", "accuracy", "type:2D", value, 50, chance=25.0),
        ),
        finished_at="2025-01-02T03:04:05+00:00",
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'harness.db'}"))
    store = app.state.store
    ingest_record(store, make_record("real00000000", "effnet-lite0.imagenet", "other", False, 55))
    ingest_record(store, make_record("smoke0000000", "clip-tiny", "clip", True, 31.0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_leaderboard_json(client: TestClient) -> None:
    body = client.get("/api/v1/leaderboard").json()
    assert body["smoke_rows"] == 1
    assert [r["encoder_id"] for r in body["rows"]] == ["effnet-lite0.imagenet", "clip-tiny"]
    assert body["rows"][1]["smoke"] is True and body["rows"][1]["chance"] == 25.0

    real = client.get("/api/v1/leaderboard", params={"include_smoke": False}).json()
    assert (len(real["rows"]), real["smoke_rows"]) == (1, 0)
    sliced = client.get("/api/v1/leaderboard", params={"benchmark": "probe", "subset": "type:2D"})
    assert {r["subset"] for r in sliced.json()["rows"]} == {"type:2D"}


@pytest.mark.parametrize(
    "params",
    [{"include_smoke": "maybe"}, {"benchmark": "no-such-bench"}, {"subset": "task:Nope"}],
)
def test_unknown_query_values_are_client_errors(client: TestClient, params: dict) -> None:
    response = client.get("/api/v1/leaderboard", params=params)
    assert 400 <= response.status_code < 500
    assert client.get("/api/v1/runs", params={"status": "exploded"}).status_code == 422


def test_unknown_benchmark_message_lists_the_known_ones(client: TestClient) -> None:
    detail = client.get("/api/v1/leaderboard", params={"benchmark": "mmvp"}).json()["detail"]
    assert "'mmvp'" in detail and "probe" in detail


def test_runs(client: TestClient) -> None:
    runs = client.get("/api/v1/runs", params={"status": "done"}).json()["items"]
    assert {r["run_key"] for r in runs} == {"real00000000", "smoke0000000"}
    assert runs[0]["finished_at"] == "2025-01-02T03:04:05+00:00"


def test_index_page_marks_smoke_and_loads_local_plotly(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert "not real scores" in page
    assert '<script src="/static/plotly.min.js"></script>' in page
    assert '<script src="/static/dashboard.js" defer></script>' in page
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page
    assert 'data-figure="group-comparison"' in page and "effnet-lite0.imagenet" in page


def test_plotly_js_is_served_from_the_package(client: TestClient) -> None:
    response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "plotly.js" in response.text[:500]
    assert len(response.content) > 1_000_000
    assert client.head("/static/plotly.min.js").status_code == 200


def test_empty_store_page_says_how_to_fill_it(tmp_path: Path) -> None:
    app = create_app(Settings(db_url="sqlite://"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/").text
        assert client.get("/api/v1/leaderboard").json() == {"rows": [], "smoke_rows": 0}
    assert "harness sweep --encoders all --preset smoke" in page
    assert "not real scores" not in page


def test_store_dependency_can_be_overridden(tmp_path: Path) -> None:
    app = create_app(Settings(db_url="sqlite://"))
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    ingest_record(other, make_record("other0000000", "dino-tiny", "ssl", True, 40.0))
    app.dependency_overrides[get_store] = lambda: other
    with TestClient(app, base_url="http://127.0.0.1") as client:
        rows = client.get("/api/v1/leaderboard").json()["rows"]
    assert [r["encoder_id"] for r in rows] == ["dino-tiny"]


def test_start_up_renders_the_default_pages_before_the_first_visitor(tmp_path: Path,
                                                                    monkeypatch) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'harness.db'}"))
    ingest_record(app.state.store, make_record("real00000000", "effnet-lite0.imagenet", "other",
                                               False, 55))
    assert len(app.state.page_cache) == 0
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert len(app.state.page_cache) == 4  # leaderboard, families, recipes, benchmarks
        # Served from what start-up drew: rendering again would fail here.
        monkeypatch.setattr("api.dashboard.pages.leaderboard.render_leaderboard", None)
        page = client.get("/")
        assert page.status_code == 200 and "effnet-lite0.imagenet" in page.text


def test_a_failed_warm_up_does_not_stop_the_server(tmp_path: Path, monkeypatch, caplog) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'harness.db'}"))

    def broken(*_args) -> None:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr("api.dashboard.pages.warm_up", broken)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/healthz").status_code == 200
    assert "dashboard warm-up failed: database unreachable" in caplog.text
