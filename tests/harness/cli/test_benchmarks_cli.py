"""``harness benchmarks list`` and ``check``: machine-readable output, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from harness.cli.app import app
from harness.data import layouts
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS

runner = CliRunner()


def test_list_json() -> None:
    result = runner.invoke(app, ["benchmarks", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["benchmarks"]}
    assert set(rows) == set(BENCHMARKS.names())
    assert rows["mmvp"]["label_patch"].startswith("mmvp-swapped-labels-v1@")
    assert rows["mme"]["metric"] == "perception" and rows["mme"]["scale"] == 2000.0
    assert rows["cv-bench"]["cambrian"] == ["CV-Bench-2D", "CV-Bench-3D"]
    only = json.loads(runner.invoke(app, ["benchmarks", "list", "--category", "Knowledge",
                                          "--format", "json"]).output)["benchmarks"]
    assert {r["name"] for r in only} == {"scienceqa-img", "mmmu", "mathvista", "ai2d"}


def test_list_table_names_every_benchmark() -> None:
    result = runner.invoke(app, ["benchmarks", "list"])
    assert result.exit_code == 0
    assert "mmvp-original" in result.output and "textvqa-ocr" in result.output


def test_unknown_category_is_a_user_error() -> None:
    result = runner.invoke(app, ["benchmarks", "list", "--category", "Cognition"])
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception).startswith("unknown category 'Cognition'; valid: General,")


def test_check_a_good_folder(tmp_path: Path) -> None:
    root = layouts.mmvp(tmp_path)
    result = runner.invoke(app, ["benchmarks", "check", "mmvp", "--data-dir", str(root),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["items"] == 6 and report["unreadable"] == 0
    assert report["label_patch"].startswith("mmvp-swapped-labels-v1@")


def test_check_counts_unreadable_images(tmp_path: Path) -> None:
    root = layouts.mmvp(tmp_path)
    (root / "MMVP Images" / "3.jpg").write_bytes(b"broken")
    result = runner.invoke(app, ["benchmarks", "check", "mmvp", "--data-dir", str(root)])
    assert result.exit_code == 1
    assert "1 unreadable image(s), first:" in result.output and "3.jpg" in result.output


def test_check_wrong_layout_is_one_line_exit_2(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "from harness.cli.app import main; main()",
           "benchmarks", "check", "cv-bench", "--data-dir", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'test.jsonl'}: not found; expected test.jsonl (fields idx, type,"
        " task, source, choices, prompt, answer \"(A)\", image) with the images it names, or"
        " test*.parquet"]
