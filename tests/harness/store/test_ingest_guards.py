"""Ingest against clumsy or hostile run folders: a record in another run's folder, special and
huge files, and a prediction-file index that must follow the folder (issue 16, items 3, 4, 6
and 11f). Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from harness.record import PREDICTIONS_DIR, RECORD_FILE, write_record
from harness.store import Store, ingest, ingest_paths, ingest_record

from .scored_runs import pattern, write_scored_run
from .special_files import finishes, reads_anyway
from .test_store import make_record

KEY = "a1b2c3d4e5f6"


def run_folder(tmp_path: Path, key: str = KEY, value: float = 61.5, lines: int = 1) -> Path:
    folder = tmp_path / "runs" / key
    write_record(folder, dataclasses.replace(make_record(value=value), run_key=key))
    (folder / PREDICTIONS_DIR).mkdir()
    (folder / PREDICTIONS_DIR / "probe.jsonl").write_text('{"answer": "A"}\n' * lines)
    return folder


def files(store: Store, key: str = KEY) -> dict[str, int]:
    return {f["benchmark"]: f["items"] for f in store.run(key)["prediction_files"]}


def test_a_record_in_another_runs_folder_is_refused_naming_both(store: Store,
                                                                 tmp_path: Path) -> None:
    real = run_folder(tmp_path, value=47.6)
    impostor = tmp_path / "runs" / "ffff00001111"
    write_record(impostor, make_record(KEY, value=11.11))
    for _ in range(2):  # and it settles: the next ingest finds nothing to change
        report = ingest_paths(store, [real, impostor])
        assert [path for path, _ in report.errors] == [impostor]
        assert f"record of run '{KEY}' in the folder of run 'ffff00001111'" in report.errors[0][1]
    assert (report.added, report.updated, report.unchanged) == (0, 0, 1)
    assert store.leaderboard()[0]["value"] == 47.6
    assert store.run(KEY)["run_dir"] == str(real.resolve())


def test_a_fifo_record_is_an_error_and_the_rest_is_ingested(store: Store,
                                                            tmp_path: Path) -> None:
    good = run_folder(tmp_path)
    fifo = tmp_path / "runs" / "fifo00000000" / RECORD_FILE
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    report = finishes(lambda: ingest_paths(store, [fifo.parent, good]), fifos=(fifo,))
    assert report.added == 1
    assert report.errors == [(fifo.parent, f"HarnessError: {fifo} is a FIFO; only regular "
                                           "files are read")]


def test_dev_zero_as_record_or_predictions_costs_one_error(store: Store,
                                                           tmp_path: Path) -> None:
    zero_record = tmp_path / "runs" / "zero00000000"
    zero_record.mkdir(parents=True)
    (zero_record / RECORD_FILE).symlink_to("/dev/zero")
    good = run_folder(tmp_path)
    (good / PREDICTIONS_DIR / "mmvp.jsonl").symlink_to("/dev/zero")
    report = finishes(lambda: ingest_paths(store, [zero_record, good]))
    assert report.added == 1  # the record beside the bad predictions file is still stored
    assert [(path, reason.split(" is ")[-1]) for path, reason in report.errors] == [
        (zero_record, "a character device; only regular files are read"),
        (good.resolve() / PREDICTIONS_DIR / "mmvp.jsonl",
         "a character device; only regular files are read")]
    assert files(store) == {"probe": 1}


def test_oversized_record_and_predictions_are_refused(store: Store, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    big = run_folder(tmp_path, lines=1000)
    report = ingest_paths(store, [big], file_limit=1000)
    assert report.added == 1 and "over the limit of 1000 bytes" in report.errors[0][1]
    assert files(store) == {}
    monkeypatch.setattr(ingest, "RECORD_LIMIT", 100)
    report = ingest_paths(store, [big])
    assert "over the limit of 100 bytes" in report.errors[0][1] and report.unchanged == 0


def test_the_index_follows_files_that_change_beside_an_unchanged_record(
        store: Store, tmp_path: Path) -> None:
    folder = run_folder(tmp_path, lines=1)
    ingest_paths(store, [folder])
    stamp = store.run(KEY)["ingested_at"]
    # A half-written file completed later: the record did not change, the index must.
    with (folder / PREDICTIONS_DIR / "probe.jsonl").open("a") as fh:
        fh.write('{"answer": "B"}\n')
    report = ingest_paths(store, [folder])
    assert (report.unchanged, report.errors) == (1, [])
    assert files(store) == {"probe": 2}
    assert store.run(KEY)["ingested_at"] >= stamp
    # A file that could not be read (here a FIFO) and is then replaced by a real one.
    fifo = folder / PREDICTIONS_DIR / "mmvp.jsonl"
    os.mkfifo(fifo)
    report = finishes(lambda: ingest_paths(store, [folder]), fifos=(fifo,))
    assert [path.name for path, _ in report.errors] == ["mmvp.jsonl"]
    fifo.unlink()
    fifo.write_text('{"answer": "C"}\n' * 3)
    assert ingest_paths(store, [folder]).ok
    assert files(store) == {"probe": 2, "mmvp": 3}


def test_an_unreadable_predictions_folder_is_indexed_once_fixed(store: Store,
                                                                tmp_path: Path) -> None:
    folder = run_folder(tmp_path, lines=2)
    predictions = folder / PREDICTIONS_DIR
    predictions.chmod(0)
    try:
        readable = reads_anyway(predictions)
        report = ingest_paths(store, [folder])
    finally:
        predictions.chmod(0o755)
    if readable:
        assert report.ok and files(store) == {"probe": 2}
    else:
        assert [path for path, _ in report.errors] == [predictions.resolve()]
        assert "PermissionError" in report.errors[0][1] and files(store) == {}
    assert ingest_paths(store, [folder]).ok
    assert files(store) == {"probe": 2}


def test_changed_draws_are_stored_though_the_record_is_unchanged(store: Store,
                                                                 tmp_path: Path) -> None:
    folder = write_scored_run(tmp_path / "runs", "a0", "enc-a", mmvp_right=pattern(80))
    ingest_paths(store, [folder])
    [draws] = folder.glob("predictions/*.replicates.npz")
    draws.unlink()
    assert ingest_paths(store, [folder]).unchanged == 1
    assert store.run_draws(["a0"])[0].draws == {}


def test_a_posted_record_keeps_the_files_of_its_folder(store: Store, tmp_path: Path) -> None:
    folder = run_folder(tmp_path, lines=3)
    ingest_paths(store, [folder])
    posted = make_record(KEY, value=70.0)  # the same run, posted with another score
    assert ingest_record(store, posted) is True
    run = store.run(KEY)
    assert run["scores"][0]["value"] == 70.0
    assert files(store) == {"probe": 3} and run["run_dir"] == str(folder.resolve())


def test_run_dir_is_stored_absolute(store: Store, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert ingest_paths(store, [Path("runs") / KEY / RECORD_FILE]).added == 1
    run_dir = Path(store.run(KEY)["run_dir"])
    assert run_dir.is_absolute() and run_dir == (tmp_path / "runs" / KEY).resolve()


def test_a_record_nested_too_deep_fails_alone(tmp_path: Path) -> None:
    from harness.record import write_record
    from harness.store import Store, ingest_paths

    from .test_store import make_record

    good = write_record(tmp_path / "runs" / "good000001", make_record("good000001")).parent
    deep = tmp_path / "runs" / "deep000001"
    deep.mkdir(parents=True)
    (deep / "record.json").write_text('{"run_key": "deep000001", "config": '
                                      + "[" * 5000 + "]" * 5000 + "}")
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    report = ingest_paths(store, [deep, good])
    assert report.added == 1 and [p.name for p, _ in report.errors] == ["deep000001"]
