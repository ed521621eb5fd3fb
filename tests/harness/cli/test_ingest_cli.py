"""``harness ingest`` as a user runs it: what it could not read or chose not to follow is
listed, the database URL is shown without its password, and a database that refuses writes
is one line (issue 16, items 7, 9 and 11)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app, main
from harness.record import write_record
from harness.store import Store, redacted

from ..store.conftest import db_url, pg_admin_url  # noqa: F401 (fixtures used here too)
from ..store.special_files import reads_anyway
from ..store.test_store import make_record

runner = CliRunner()


def harness(*args: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The console script's entry point as a user meets it: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["harness", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def root_with_runs(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for key in ("open00000000", "shut00000000"):
        write_record(root / "runs" / key, make_record(key))
    (root / "runs" / "alias").symlink_to(root / "runs" / "open00000000")
    return root


def test_ingest_lists_what_it_did_not_read(tmp_path: Path) -> None:
    root = root_with_runs(tmp_path)
    shut = root / "runs" / "shut00000000"
    shut.chmod(0)
    try:
        readable = reads_anyway(shut)
        result = runner.invoke(app, ["ingest", str(root), "--db",
                                     f"sqlite:///{tmp_path / 'h.db'}"])
    finally:
        shut.chmod(0o755)
    lines = result.output.splitlines()
    alias = (root / "runs" / "alias").resolve().parent / "alias"
    assert f"not followed {alias}: symlink to {shut.parent.resolve()}/open00000000, inside" \
           " the root: not followed (read where it lies)" in lines
    if readable:
        assert result.exit_code == 0, result.output
        assert lines[0].startswith("ingested 2 new, 0 updated, 0 unchanged records into ")
    else:
        assert result.exit_code == 1
        assert lines[0].startswith("ingested 1 new, 0 updated, 0 unchanged records into ")
        assert f"skipped {shut.resolve()}: folder not readable (Permission denied); its runs, " \
               "if any, are not ingested" in lines


def test_database_urls_are_printed_without_their_password(tmp_path: Path,
                                                          db_url: str) -> None:  # noqa: F811
    root = root_with_runs(tmp_path)
    commands = (["ingest", str(root)], ["db", "current"], ["db", "upgrade"],
                ["import-published", "cambrian-1"])
    password = Store(db_url).engine.url.password
    for command in commands:
        result = runner.invoke(app, [*command, "--db", db_url])
        assert result.exit_code == 0, result.output
        printed = "".join(result.output.splitlines())  # rich may fold a long URL
        assert redacted(db_url) in printed
        assert not password or f":{password}@" not in printed


def test_a_read_only_or_unknown_database_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = root_with_runs(tmp_path)
    path = tmp_path / "h.db"
    Store(f"sqlite:///{path}").dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    # ingest names the URL; import-published fails in the middle, caught by the entry point.
    for command, start in ((["ingest", str(root)], "error: database sqlite:///file"),
                           (["import-published", "cambrian-1"], "error: database: ")):
        code, _out, err = harness(*command, "--db", read_only, monkeypatch=monkeypatch,
                                  capsys=capsys)
        [line] = err.splitlines()
        assert code == 2 and line.startswith(start) and line.endswith(
            "attempt to write a readonly database"), line
    code, out, err = harness("ingest", str(root), "--db", "foo://user:s3cret@host/db",
                             monkeypatch=monkeypatch, capsys=capsys)
    # A password on the command line is warned about first (the process list shows it).
    warning, line = err.splitlines()
    assert warning.startswith("warning: --db foo://user:***@host/db carries a password")
    assert code == 2 and line.startswith("error: database foo://user:***@host/db: unknown")
    assert "s3cret" not in out + err
