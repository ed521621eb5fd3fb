"""``harness eval``: score a finished run's saved model on benchmarks. The model is rebuilt from
the run folder (its config and ``model/``), predictions and scores are kept under the run's
``eval/`` folder, and ``--db`` adds the scores to the run's record and the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harness.cli.common import check_format, console, err_console, print_json, print_table
from harness.errors import HarnessError
from harness.lmms.evaluate import evaluate_with_lmms_eval, load_lmms_eval_tasks
from harness.record import (
    RECORD_FILE,
)
from harness.sweep.evaluation import evaluate_run
from harness.sweep.inputs import split_names


def _value(value: float | None, scale: float = 100.0) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" + (f" / {scale:g}" if scale != 100.0 else "")


def print_report(report: dict) -> None:
    smoke = " [yellow](smoke run: random-weight tiny twins, not a real score)[/]" \
        if report["smoke"] else ""
    console.print(f"run {report['run_key']} ({report['run_dir']}): {report['encoder']} / "
                  f"{report['recipe']}, saved model {'+'.join(report['model']['parts'])}{smoke}")
    table = Table("benchmark", "metric", "score", "n", "predictions")
    for r in report["benchmarks"]:
        table.add_row(r["benchmark"], r["metric"], _value(r["value"], r["scale"]), str(r["n"]),
                      Path(r["predictions"]).relative_to(report["run_dir"]).as_posix())
    print_table(table)
    if report["categories"]:
        cats = Table("category (Cambrian-1)", "average", "columns")
        for c in report["categories"]:
            cols = ", ".join(f"{n} {v:.1f}" for n, v in c["columns"].items())
            if c["missing"]:
                cols += f" (missing {', '.join(c['missing'])})"
            cats.add_row(c["category"], _value(c["average"]), cols)
        print_table(cats)
    for s in report["vision_reliance"]:
        if s["subset"] == "overall":
            console.print(f"vision reliance of {s['benchmark']}: {s['value']:+.1f} "
                          f"({s['metric']})")
    if report["stored"]:
        console.print(f"stored {report['stored']['scores']} scores in {RECORD_FILE} and "
                      f"{report['stored']['db']}")


def print_lmms_report(report: dict) -> None:
    smoke = " [yellow](smoke run: random-weight tiny twins, not a real score)[/]" \
        if report["smoke"] else ""
    console.print(f"run {report['run_key']} scored by lmms-eval {report['lmms_eval']}{smoke}")
    table = Table("task", "metric", "value (lmms-eval's scale)", "n")
    for s in report["scores"]:
        table.add_row(s["task"], s["metric"], f"{s['value']:.4g}", str(s["n"]))
    print_table(table)
    console.print(f"results: {report['results']}")
    if report["stored"]:
        console.print(f"stored {report['stored']['scores']} external scores in {RECORD_FILE} "
                      f"and {report['stored']['db']}")


def eval_command(
    checkpoint: Annotated[Path, typer.Option(
        "--checkpoint", help="A finished run's folder (harness-runs/runs/<key>).")],
    benchmarks: Annotated[str | None, typer.Option(
        help="Comma-separated benchmark names (see `harness benchmarks list`).")] = None,
    data_dir: Annotated[list[str] | None, typer.Option(
        "--data-dir", help="A folder with one subfolder per benchmark (DIR/mmvp), the folder "
        "of the only benchmark, or NAME=DIR; repeatable.")] = None,
    mode: Annotated[str, typer.Option(help="generate (greedy) or loglik (option "
                                      "log-likelihood, multiple choice).")] = "generate",
    blind: Annotated[bool, typer.Option(help="Ask without the image (vision reliance).")]
    = False,
    limit: Annotated[int | None, typer.Option(help="Only the first N items.")] = None,
    subset: Annotated[str | None, typer.Option(help="A named slim subset.")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Questions per batch (default: the run's eval batch).")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    db: Annotated[str | None, typer.Option(
        help="Also store the scores: into the run's record.json and this database URL.")]
    = None,
    lmms_eval_tasks: Annotated[str | None, typer.Option(
        help="Also (or only) score the run with lmms-eval's evaluator on these comma-separated "
             "lmms-eval tasks (they read their own datasets, not --data-dir). Needs pip "
             "install 'encoder-harness[lmms-eval]'.")] = None,
    lmms_eval_include: Annotated[Path | None, typer.Option(
        help="A folder of lmms-eval task YAMLs to add (e.g. tasks reading local files).")]
    = None,
) -> None:
    """Evaluate a finished run's saved model on harness benchmarks, lmms-eval tasks or both,
    and print the scores."""
    check_format(format)
    if benchmarks is None and lmms_eval_tasks is None:
        raise HarnessError("give --benchmarks (harness benchmarks), --lmms-eval-tasks, or both")
    if data_dir and benchmarks is None:
        raise HarnessError("--data-dir is where --benchmarks read their data; lmms-eval tasks "
                           "read their own (HF_DATASETS_CACHE, or --lmms-eval-include with a "
                           "task YAML over local files)")
    # Loaded (and so checked) before minutes of harness scoring, and only once.
    tasks = (load_lmms_eval_tasks(split_names(lmms_eval_tasks), lmms_eval_include)
             if lmms_eval_tasks is not None else None)

    def progress(name: str, done: int, total: int) -> None:
        if done == total:
            err_console.print(f"{name}: {total} items")

    report = lmms = None
    if benchmarks is not None:
        report = evaluate_run(checkpoint, split_names(benchmarks), data_dir or [], mode=mode,
                              blind=blind, limit=limit, subset=subset, batch_size=batch_size,
                              db=db, on_progress=progress)
    if tasks is not None:
        lmms = evaluate_with_lmms_eval(checkpoint, tasks, limit=limit, db=db)
    if format == "json":
        print_json({"harness": report, "lmms_eval": lmms} if report and lmms
                   else report or lmms)
        return
    if report is not None:
        print_report(report)
    if lmms is not None:
        print_lmms_report(lmms)
