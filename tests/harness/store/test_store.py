"""The store and its ingest: idempotent upserts from record files, and the leaderboard query,
on SQLite and PostgreSQL (the ``store`` fixture is parametrized in conftest.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.record import EncoderInfo, ResultRecord, Score, write_record
from harness.store import DEFAULT_DB_URL, IngestReport, Store, ingest_paths, ingest_record
from harness.store.columns import field_names
from harness.store.models import RunRow, ScoreRow

LEADERBOARD_KEYS = {
    "encoder_id", "group", "supervision", "architecture", "tiny", "smoke", "scale", "recipe",
    "llm", "connector", "seed", "run_key", *field_names(Score),
}  # fmt: skip


def make_record(
    key: str = "a1b2c3d4e5f6",
    encoder: str = "clip-vit-b16.openai",
    group: str = "clip",
    smoke: bool = False,
    status: str = "done",
    value: float = 61.5,
    finished_at: str = "2025-01-02T03:04:05+00:00",
) -> ResultRecord:
    return ResultRecord(
        run_key=key,
        status=status,
        smoke=smoke,
        encoder=EncoderInfo(
            id=encoder,
            group=group,
            supervision="language",
            architecture="vit",
            resolution=224,
            tiny=smoke,
        ),
        recipe="llava15",
        llm="tiny-llm",
        connector="mlp2x_gelu",
        seed=0,
        preset="smoke" if smoke else "full",
        config={"encoder": encoder, "seed": 0},
        scores=(
            Score("probe", "accuracy", "overall", value, 200, chance=25.0),
            Score("probe", "accuracy", "task:Count", value - 5, 50, chance=25.0),
        ),
        started_at="2025-01-02T03:00:00+00:00",
        finished_at=finished_at,
        wall_seconds=245.0,
    )


def write(tmp_path: Path, record: ResultRecord) -> Path:
    return write_record(tmp_path / "runs" / record.run_key, record)


def counts(store: Store) -> tuple[int, int]:
    with store.session() as s:
        return (
            s.scalar(select(func.count()).select_from(RunRow)),
            s.scalar(select(func.count()).select_from(ScoreRow)),
        )


def test_sqlite_file_gets_its_folder_and_wal(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db' / 'harness.db'}")
    assert (tmp_path / "db" / "harness.db").exists()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_from_env_prefers_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DB_URL", "sqlite://")
    assert Store.from_env().url == "sqlite://"
    monkeypatch.delenv("HARNESS_DB_URL")
    assert Store.from_env("sqlite://").url == "sqlite://"
    assert DEFAULT_DB_URL.startswith("sqlite:///")


def test_session_rolls_back_on_error(store: Store) -> None:
    ingest_record(store, make_record())
    with pytest.raises(RuntimeError), store.session() as s:
        s.get(RunRow, "a1b2c3d4e5f6").status = "failed"
        raise RuntimeError("boom")
    assert store.run_keys_by_status() == {"a1b2c3d4e5f6": "done"}


def test_ingest_twice_changes_nothing(store: Store, tmp_path: Path) -> None:
    paths = [write(tmp_path, make_record()), write(tmp_path, make_record("ffff00001111"))]
    first = ingest_paths(store, paths)
    assert (first.added, first.updated, first.unchanged, first.errors) == (2, 0, 0, [])
    with store.session() as s:
        stamp = s.get(RunRow, "a1b2c3d4e5f6").ingested_at
    second = ingest_paths(store, paths)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 2)
    assert counts(store) == (2, 4)
    with store.session() as s:
        assert s.get(RunRow, "a1b2c3d4e5f6").ingested_at == stamp


def test_changed_record_replaces_its_scores(store: Store, tmp_path: Path) -> None:
    write(tmp_path, make_record())
    ingest_paths(store, [tmp_path / "runs" / "a1b2c3d4e5f6"])
    changed = dataclasses.replace(
        make_record(value=70.0, finished_at="2025-01-03T00:00:00+00:00"),
        scores=(Score("probe", "accuracy", "overall", 70.0, 200),),
    )
    report = ingest_paths(store, [write(tmp_path, changed)])
    assert (report.added, report.updated) == (0, 1)
    assert counts(store) == (1, 1)
    [row] = store.leaderboard()
    assert row["value"] == 70.0 and row["chance"] is None
    assert store.runs()[0]["finished_at"] == "2025-01-03T00:00:00+00:00"


def test_ingest_record_reports_whether_it_wrote(store: Store) -> None:
    assert ingest_record(store, make_record()) is True
    assert ingest_record(store, make_record()) is False


def test_second_encoder_row_is_upserted_not_duplicated(store: Store) -> None:
    ingest_record(store, make_record("k1" * 6))
    ingest_record(store, make_record("k2" * 6))
    assert {r["encoder_id"] for r in store.leaderboard()} == {"clip-vit-b16.openai"}


def test_malformed_files_are_reported_and_the_rest_ingested(store: Store, tmp_path: Path) -> None:
    good = write(tmp_path, make_record())
    not_json = tmp_path / "bad1" / "record.json"
    not_json.parent.mkdir()
    not_json.write_text("{not json")
    wrong_shape = tmp_path / "bad2" / "record.json"
    wrong_shape.parent.mkdir()
    data = json.loads(good.read_text())
    data["status"] = "exploded"
    wrong_shape.write_text(json.dumps(data))
    missing = tmp_path / "nowhere"
    report = ingest_paths(store, [not_json, wrong_shape, missing, good])
    assert isinstance(report, IngestReport)
    assert report.added == 1
    assert [path for path, _ in report.errors] == [not_json, wrong_shape, missing]
    assert "exploded" in report.errors[1][1]


def test_duplicate_score_is_an_error_naming_it(store: Store, tmp_path: Path) -> None:
    score = Score("probe", "accuracy", "overall", 50.0, 10)
    record = dataclasses.replace(make_record(), scores=(score, score))
    report = ingest_paths(store, [write(tmp_path, record)])
    assert "probe/accuracy/overall" in report.errors[0][1]
    assert counts(store) == (0, 0)


def test_leaderboard_filters_smoke_subset_benchmark_and_status(store: Store) -> None:
    ingest_record(store, make_record("real00000000", value=60.0))
    ingest_record(store, make_record("smoke0000000", "dinov2-tiny", "ssl", smoke=True, value=30.0))
    ingest_record(store, make_record("fail00000000", status="failed"))
    rows = store.leaderboard()
    assert [r["run_key"] for r in rows] == ["real00000000", "smoke0000000"]
    assert set(rows[0]) == LEADERBOARD_KEYS
    assert [r["run_key"] for r in store.leaderboard(include_smoke=False)] == ["real00000000"]
    assert {r["subset"] for r in store.leaderboard(subset="task:Count")} == {"task:Count"}
    assert store.leaderboard(benchmark="mmvp") == []
    assert store.run_keys_by_status()["fail00000000"] == "failed"
    assert [r["run_key"] for r in store.runs(status="failed")] == ["fail00000000"]
    assert store.benchmarks() == ["probe"]


def test_concurrent_insert_is_retried_as_an_update(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from harness.store import ingest

    real_write = ingest._write
    calls = []

    def racing_write(session, record, *args):  # another writer gets there first, once
        calls.append(record.run_key)
        if len(calls) == 1:
            monkeypatch.setattr(ingest, "_write", real_write)
            ingest_record(store, record)
            monkeypatch.setattr(ingest, "_write", racing_write)
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        return real_write(session, record, *args)

    monkeypatch.setattr(ingest, "_write", racing_write)
    assert ingest_record(store, make_record()) is False  # the retry found it already there
    assert counts(store) == (1, 2)


def test_bulk_ingest_adds_skips_and_updates_in_one_batch(store: Store) -> None:
    from harness.store import ingest_records

    first = ingest_records(store, [make_record("bulk00000001"), make_record("bulk00000002")])
    assert (first.added, first.unchanged, first.updated) == (2, 0, 0)
    changed = make_record("bulk00000002", value=10.0)
    mixed = ingest_records(store, [make_record("bulk00000001"), changed,
                                   make_record("bulk00000003", encoder="new-enc.x")], batch=10)
    assert (mixed.added, mixed.unchanged, mixed.updated) == (1, 1, 1)
    assert counts(store) == (3, 6)
    values = {r["run_key"]: r["value"] for r in store.leaderboard()}
    assert values["bulk00000002"] == 10.0 and "bulk00000003" in values
    # The same record twice in one batch is stored once.
    twice = ingest_records(store, [make_record("bulk00000004")] * 2)
    assert (twice.added, twice.unchanged) == (1, 1) and counts(store) == (4, 8)


def test_predictions_of_the_sweep_and_of_harness_eval_are_both_indexed(
        store: Store, tmp_path: Path) -> None:
    from harness.store.predictions import read_predictions

    write(tmp_path, make_record())
    run_dir = tmp_path / "runs" / "a1b2c3d4e5f6"
    (run_dir / "predictions").mkdir()
    (run_dir / "eval").mkdir()
    (run_dir / "predictions" / "probe.jsonl").write_text('{"answer": "A", "from": "sweep"}\n')
    (run_dir / "eval" / "cv-bench.jsonl").write_text('{"answer": "B"}\n{"answer": "C"}\n')
    (run_dir / "eval" / "mmvp-blind.jsonl").write_text('{"answer": "D"}\n')
    ingest_paths(store, [run_dir])
    run = store.run("a1b2c3d4e5f6")
    files = {f["benchmark"]: (f["path"], f["items"]) for f in run["prediction_files"]}
    assert files == {"probe": ("predictions/probe.jsonl", 1),
                     "cv-bench": ("eval/cv-bench.jsonl", 2),
                     "mmvp-blind": ("eval/mmvp-blind.jsonl", 1)}
    assert read_predictions(run, "cv-bench", limit=5) == (2, [{"answer": "B"}, {"answer": "C"}])

    # A later `harness eval` of the sweep's own benchmark: its file is the one shown.
    (run_dir / "eval" / "probe.jsonl").write_text('{"answer": "E", "from": "eval"}\n')
    write(tmp_path, dataclasses.replace(make_record(), wall_seconds=246.0))
    ingest_paths(store, [run_dir])
    run = store.run("a1b2c3d4e5f6")
    assert read_predictions(run, "probe", limit=1)[1] == [{"answer": "E", "from": "eval"}]


def test_an_old_sva_run_is_stored_as_sva_lite(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    old = dataclasses.replace(make_record("old"), connector="sva(grid=12)",
                              config={"connector": "sva(grid=12)"})
    new = dataclasses.replace(make_record("new"), connector="sva(grid=12)",
                              config={"connector": "sva(grid=12)", "connector_version": 2})
    posted = dataclasses.replace(make_record("posted"), connector="sva", config={})
    for record in (old, new, posted):
        ingest_record(store, record)
    assert {r["run_key"]: r["connector"] for r in store.runs()} == {
        "old": "sva-lite(grid=12)", "new": "sva(grid=12)", "posted": "sva"}
