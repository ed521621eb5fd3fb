"""``harness eval``: a finished run's saved model is rebuilt from its folder and scored on
benchmark folders in their official layouts; bad input is a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli.app import app
from harness.data import layouts
from harness.errors import HarnessError
from harness.record import read_record
from harness.store import Store
from harness.sweep.evaluation import evaluate_run
from harness.sweep.model import INFO, MODEL_DIR, WEIGHTS

runner = CliRunner()
@pytest.fixture(scope="module")
def bench_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("benchmarks")
    layouts.cvbench(root / "cv-bench")
    layouts.mmvp(root / "mmvp")
    return root


def test_the_job_keeps_the_trained_parts(finished: Path) -> None:
    info = json.loads((finished / MODEL_DIR / INFO).read_text())
    assert info["save_model"] == "trainable" and info["parts"] == ["connector", "llm"]
    assert set(info["rebuilt"]) == {"encoder"}
    from safetensors.torch import load_file

    keys = load_file(str(finished / MODEL_DIR / WEIGHTS)).keys()
    assert {k.split(".")[0] for k in keys} == {"connector", "llm"}
    assert (finished / MODEL_DIR / "tokenizer" / "tokenizer.json").is_file()
    assert not list((finished / MODEL_DIR).rglob("*.bin")) and not list(
        (finished / MODEL_DIR).rglob("*.pt*"))


def test_rebuilt_model_scores_exactly_like_the_job(finished: Path) -> None:
    """The probe scored again from the saved model equals the job's own scores: the rebuild
    (registries, seed, tokenizer, saved parts) gives the trained model back."""
    result = runner.invoke(app, ["eval", "--checkpoint", str(finished), "--benchmarks", "probe",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    again = {(s["metric"], s["subset"]): s["value"] for s in report["benchmarks"][0]["scores"]}
    job = {(s.metric, s.subset): s.value for s in read_record(finished).scores
           if s.benchmark == "probe"}
    assert again == job


def test_cvbench_and_mmvp(finished: Path, bench_data: Path) -> None:
    result = runner.invoke(app, ["eval", "--checkpoint", str(finished), "--benchmarks",
                                 "cv-bench,mmvp", "--data-dir", str(bench_data),
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {r["benchmark"]: r for r in report["benchmarks"]}
    assert rows["cv-bench"]["n"] == 6 and rows["mmvp"]["n"] == 3  # three pairs
    assert rows["mmvp"]["metric"] == "pair_accuracy"
    for name in ("cv-bench", "mmvp"):
        lines = (finished / "eval" / f"{name}.jsonl").read_text().splitlines()
        assert len(lines) == 6 and {"output", "extracted", "correct"} <= set(json.loads(lines[0]))
    scores = {(s["benchmark"], s["subset"]) for r in report["benchmarks"] for s in r["scores"]}
    assert {("cv-bench", "cvbench:2D"), ("cv-bench", "cvbench:3D")} <= scores
    (vision,) = report["categories"]
    assert vision["category"] == "Vision-Centric" and vision["average"] is None
    assert vision["missing"] == ["RealWorldQA"]
    assert set(vision["columns"]) == {"MMVP", "CV-Bench-2D", "CV-Bench-3D"}
    kept = json.loads((finished / "eval" / "scores.json").read_text())["scores"]
    assert {s["benchmark"] for s in kept} >= {"cv-bench", "mmvp"}

    table = runner.invoke(app, ["eval", "--checkpoint", str(finished / "model"),
                                "--benchmarks", "mmvp", "--data-dir", str(bench_data)])
    assert table.exit_code == 0, table.output
    assert "pair_accuracy" in table.stdout and "Vision-Centric" in table.stdout


def test_loglik_blind_limit_and_vision_reliance(finished: Path, bench_data: Path) -> None:
    base = ["--checkpoint", str(finished), "--benchmarks", "cv-bench", "--mode", "loglik",
            "--limit", "4"]
    common = dict(mode="loglik", limit=4)
    seen = evaluate_run(finished, ["cv-bench"], [str(bench_data)], **common)
    blind = evaluate_run(finished, ["cv-bench"], [str(bench_data)], blind=True, **common)
    (row,) = blind["benchmarks"]
    assert row["metric"] == "accuracy_loglik_blind" and row["n"] == 4
    assert Path(row["predictions"]).name == "cv-bench_loglik_blind.jsonl"
    reliance = {s["subset"]: s["value"] for s in blind["vision_reliance"]}
    assert reliance["overall"] == pytest.approx(
        seen["benchmarks"][0]["value"] - row["value"])
    result = runner.invoke(app, ["eval", *base, "--data-dir", str(bench_data), "--blind"])
    assert result.exit_code == 0, result.output
    assert "vision reliance of cv-bench" in result.stdout


def test_a_second_evaluation_resumes_from_the_kept_predictions(finished: Path,
                                                               bench_data: Path) -> None:
    first = evaluate_run(finished, ["mmvp"], [str(bench_data)])
    path = Path(first["benchmarks"][0]["predictions"])
    before = path.read_bytes()
    again = evaluate_run(finished, ["mmvp"], [f"mmvp={bench_data / 'mmvp'}"])
    assert path.read_bytes() == before
    assert again["benchmarks"][0]["scores"] == first["benchmarks"][0]["scores"]


def test_db_stores_the_scores_with_the_run(finished: Path, bench_data: Path,
                                           tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    report = evaluate_run(finished, ["mmvp"], [str(bench_data)], db=url)
    assert report["stored"]["db"] == url
    record = read_record(finished)
    assert {s.benchmark for s in record.scores} == {"probe", "mmvp"}
    store = Store(url)
    rows, _ = store.scores(run_key=record.run_key)
    assert {r["benchmark"] for r in rows} == {"probe", "mmvp"}
    store.dispose()


def test_a_changed_rebuild_is_refused(finished: Path, tmp_path: Path) -> None:
    """Only trainable parts are saved; a rebuilt frozen part that is not the one the run
    trained with (other weights) is refused, never silently evaluated."""
    import shutil

    copy = tmp_path / finished.name
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns("eval"))
    info_path = copy / MODEL_DIR / INFO
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "rebuilt": {"encoder": "0" * 16}}))
    with pytest.raises(HarnessError, match="the rebuilt encoder differs"):
        evaluate_run(copy, ["probe"], [])


@pytest.mark.parametrize(("args", "message"), [
    (["--benchmarks", "mmvp,nope"], "unknown benchmark 'nope'; valid: ai2d, chartqa,"),
    (["--benchmarks", "mmvp", "--mode", "beam"], "unknown --mode 'beam'; valid: generate,"
     " loglik"),
    (["--benchmarks", "mmvp", "--subset", "tiny"], "unknown subset 'tiny' of mmvp; valid:"),
    (["--benchmarks", "mmvp,cv-bench", "--data-dir", "{data}/mmvp"],
     "no data folder for benchmark 'mmvp': looked for"),
    (["--benchmarks", "mmvp", "--data-dir", "{data}/cv-bench"], "Questions.csv"),
])
def test_bad_input_is_a_user_error(finished: Path, bench_data: Path, args: list[str],
                                   message: str) -> None:
    args = [a.replace("{data}", str(bench_data)) for a in args]
    if "--data-dir" not in args:
        args += ["--data-dir", str(bench_data)]
    result = runner.invoke(app, ["eval", "--checkpoint", str(finished), *args])
    assert isinstance(result.exception, HarnessError), result.output
    assert message in str(result.exception)


def test_a_folder_without_a_model_is_one_line_exit_2(finished: Path, tmp_path: Path) -> None:
    bare = tmp_path / "run"
    bare.mkdir()
    for name in ("config.json", "run.json"):
        (bare / name).write_text((finished / name).read_text())
    for folder, expected in [
        (tmp_path / "missing", f"error: --checkpoint {tmp_path / 'missing'}: no such folder;"
         " expected a run folder (harness-runs/runs/<key>/ with config.json, run.json and"
         " model/)"),
        (bare, f"error: {bare} has no saved model (model/model.json): the run has not"
         " finished, or its preset had save_model = \"none\""),
    ]:
        cmd = [sys.executable, "-c", "from harness.cli.app import main; main()", "eval",
               "--checkpoint", str(folder), "--benchmarks", "mmvp"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [expected]
