"""``harness db upgrade`` and ``harness import-published``: as a user runs them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from harness.cli.app import app
from harness.errors import HarnessError
from harness.store import Store
from harness.store.schema import head_revision

runner = CliRunner()
SKELETON = Path(__file__).parents[1] / "store" / "data" / "skeleton_schema.sql"


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The console script's entry point, in a fresh process (exit codes, stderr)."""
    cmd = [sys.executable, "-c", "from harness.cli.app import main; main()", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_db_upgrade_adopts_a_skeleton_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(SKELETON.read_text())
    con.close()
    url = f"sqlite:///{path}"
    result = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    assert f"to {head_revision()}" in result.output and "adopted" in result.output
    again = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert "already at" in again.output
    current = runner.invoke(app, ["db", "current", "--db", url])
    assert f"revision {head_revision()}" in current.output


def test_import_published_builtin_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    first = runner.invoke(app, ["import-published", "cambrian-1", "--db", url])
    assert first.exit_code == 0, first.output
    assert "cambrian-1: 278 added, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(app, ["import-published", "cambrian-1", "--db", url])
    assert "0 added, 0 updated, 278 unchanged" in second.output
    assert len(Store(url).published()) == 278


def test_import_published_user_file_and_a_malformed_one(tmp_path: Path) -> None:
    good = tmp_path / "mine.csv"
    good.write_text("source,subject,kind,metric,value\nMy table,My ViT,encoder,MMVP,30\n")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    ok = runner.invoke(app, ["import-published", str(good), "--db", url])
    assert ok.exit_code == 0 and "mine: 1 added" in ok.output
    assert "no registry id for My ViT" in ok.output  # told how to link it
    bad = tmp_path / "bad.csv"
    bad.write_text("source,subject,kind,metric,value\nMy table,My ViT,encoder,MMVP,thirty\n")
    result = harness("import-published", str(bad), "--db", url, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {bad}:2: field 'value': 'thirty' is not a number")
    unknown = runner.invoke(app, ["import-published", "cambrian-2", "--db", url])
    assert isinstance(unknown.exception, HarnessError)
    assert "built in (cambrian-1, llava-1.5)" in str(unknown.exception)
