"""Finding run folders: every folder not looked into is listed with the reason (issue 16,
item 9), symlinks are not followed, and nothing under a run folder is searched."""

from __future__ import annotations

from pathlib import Path

from harness.record import RECORD_FILE, write_record
from harness.store import Store, ingest_root, scan_records

from .special_files import reads_anyway
from .test_store import make_record


def runs(tmp_path: Path, *keys: str) -> Path:
    root = tmp_path / "root"
    for key in keys:
        write_record(root / "runs" / key, make_record(key))
    return root


def test_a_mode_000_run_folder_is_listed_not_dropped(tmp_path: Path) -> None:
    root = runs(tmp_path, "open00000000", "shut00000000")
    shut = root / "runs" / "shut00000000"
    shut.chmod(0)
    try:
        readable = reads_anyway(shut)
        scan = scan_records(root)
    finally:
        shut.chmod(0o755)
    found = [p.parent.name for p in scan.records]
    if readable:
        assert found == ["open00000000", "shut00000000"] and scan.errors == []
    else:
        assert found == ["open00000000"]
        [(path, why)] = scan.errors
        assert path == shut.resolve() and why.startswith("folder not readable (Permission")


def test_symlinked_folders_are_listed_and_not_followed(tmp_path: Path) -> None:
    root = runs(tmp_path, "real00000000")
    elsewhere = tmp_path / "elsewhere"
    write_record(elsewhere / "away00000000", make_record("away00000000"))
    (root / "runs" / "alias").symlink_to(root / "runs" / "real00000000")
    (root / "runs" / "away00000000").symlink_to(elsewhere / "away00000000")
    (root / "linked-runs").symlink_to(elsewhere)
    (root / "runs" / "notes.txt").symlink_to(root / "runs" / "real00000000" / RECORD_FILE)
    scan = scan_records(root)
    root = root.resolve()
    assert scan.records == [root / "runs" / "real00000000" / RECORD_FILE]
    assert scan.errors == []
    reasons = {path.name: why for path, why in scan.skipped}
    assert set(reasons) == {"alias", "away00000000", "linked-runs"}  # a link to a file: no run
    assert reasons["alias"].endswith("inside the root: not followed (read where it lies)")
    assert f"outside the root {root}" in reasons["away00000000"]


def test_a_run_folder_is_not_searched_further_and_the_root_may_be_one(tmp_path: Path) -> None:
    root = runs(tmp_path, "outer0000000")
    inner = root / "runs" / "outer0000000" / "archive" / "inner0000000"
    write_record(inner, make_record("inner0000000"))
    assert [p.parent.name for p in scan_records(root).records] == ["outer0000000"]
    assert scan_records(inner).records == [inner.resolve() / RECORD_FILE]


def test_ingest_root_reports_what_the_scan_left_out(tmp_path: Path) -> None:
    root = runs(tmp_path, "real00000000")
    (root / "runs" / "alias").symlink_to(root / "runs" / "real00000000")
    report = ingest_root(Store(f"sqlite:///{tmp_path / 'h.db'}"), root)
    assert (report.added, report.errors) == (1, [])
    assert [path.name for path, _ in report.skipped] == ["alias"]
