"""A finished run scored by lmms-eval's own evaluator on its tasks (``harness eval
--lmms-eval-tasks``): the results and per-sample logs are written where and as lmms-eval's CLI
writes them (under the run's ``eval/lmms-eval/``), then read back as external scores and,
with ``db``, added to the run's record beside the harness's own scores.

lmms-eval's tasks read their own datasets (the hub's, through ``datasets``): a benchmark folder
of the harness does not apply. Offline, a task runs from the ``datasets`` cache
(``HF_DATASETS_CACHE``) or from a local task YAML (``include``) whose ``dataset_kwargs`` name
local files.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.lmms.compare import OUTPUT_DIR, mapping_for, write_ids
from harness.lmms.results import read_results
from harness.record import EVAL_DIR
from harness.sweep.evaluation import run_folder, store_scores
from harness.sweep.plan import load_run

INSTALL = "pip install 'encoder-harness[lmms-eval]'"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def require_lmms_eval() -> str:
    """lmms-eval's version, or the one-line error that says how to install it."""
    if importlib.util.find_spec("lmms_eval") is None:
        raise HarnessError(f"lmms-eval is not installed: {INSTALL}")
    return importlib.metadata.version("lmms-eval")


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in OFFLINE_VARIABLES)


def _cause(exc: BaseException) -> str:
    """The first line of what went wrong, under lmms-eval's retry wrapper if any."""
    attempt = getattr(exc, "last_attempt", None)  # tenacity's RetryError
    if attempt is not None and attempt.exception() is not None:
        exc = attempt.exception()
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _quiet_lmms_eval_log() -> None:
    """lmms-eval logs (through loguru) to stdout and, from its task loader, every debug line;
    the harness keeps stdout for its report (``--format json``), so lmms-eval's log goes to
    stderr, warnings and worse only."""
    # deferred: loguru comes with lmms-eval, an optional extra
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")


def _task_dict(tasks: list[str], include: Path | None) -> tuple[Any, dict]:
    """lmms-eval's task manager and its loaded tasks; an unknown task, or one whose data
    cannot be had (offline, not cached), is one line naming it."""
    # deferred: lmms-eval is an optional extra, imported only when asked for (seconds)
    from lmms_eval.tasks import TaskManager, get_task_dict

    _quiet_lmms_eval_log()

    if include is not None and not Path(include).is_dir():
        raise HarnessError(f"--lmms-eval-include {include}: no such folder")
    manager = TaskManager(include_path=str(include) if include else None)
    known = set(manager.all_tasks)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise HarnessError(f"unknown lmms-eval task {unknown[0]!r}; see `python -m lmms_eval "
                           "--tasks list`, or give a folder of task YAMLs with "
                           "--lmms-eval-include")
    loaded = {}
    for task in tasks:
        try:
            loaded |= get_task_dict([task], manager)
        except Exception as exc:  # datasets raises many types for data it cannot reach
            where = ("offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set) and its dataset is not"
                     " in the datasets cache" if _offline() else "its dataset could not be read")
            raise HarnessError(f"lmms-eval task {task!r}: {where} ({_cause(exc)})") from None
    return manager, loaded


@dataclass(frozen=True)
class LmmsTasks:
    """lmms-eval tasks, checked and loaded once (their data included): what
    ``evaluate_with_lmms_eval`` runs."""

    names: list[str]
    manager: Any
    loaded: dict[str, Any]


def load_lmms_eval_tasks(tasks: list[str], include: Path | None = None) -> LmmsTasks:
    """lmms-eval is installed and every task exists and can read its data (one line if not);
    done before any model is built or benchmark scored."""
    require_lmms_eval()
    if not tasks:
        raise HarnessError("--lmms-eval-tasks is empty; name lmms-eval tasks, e.g. mmstar,pope")
    return LmmsTasks(tasks, *_task_dict(tasks, include))


def evaluate_with_lmms_eval(checkpoint: Path, tasks: LmmsTasks, *, limit: int | None = None,
                            device: str | None = None, db: str | None = None) -> dict:
    """Score the run on lmms-eval ``tasks``; returns the report (``scores``: what lmms-eval
    wrote, as external scores; ``results``: its results file)."""
    version = require_lmms_eval()
    if limit is not None and limit < 1:
        raise HarnessError(f"--limit must be at least 1, got {limit}")
    folder = run_folder(checkpoint)
    run = replace(load_run(folder), run_dir=str(folder))
    # deferred: lmms-eval is an optional extra, imported only when asked for (seconds)
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.loggers import EvaluationTracker

    from harness.lmms.model import HarnessModel

    model = HarnessModel(run=str(folder), device=device)
    tracker = EvaluationTracker(output_path=str(folder / EVAL_DIR / OUTPUT_DIR))
    out = simple_evaluate(model=model, model_args=f"model_name=harness-{run.key}",
                          tasks=tasks.names, task_manager=tasks.manager, limit=limit,
                          log_samples=True,
                          evaluation_tracker=tracker)
    samples = out.pop("samples")
    tracker.save_results_aggregated(results=out, samples=samples, datetime_str=out["date"])
    for task in out["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    written = folder / EVAL_DIR / OUTPUT_DIR / tracker.general_config_tracker.model_name_sanitized
    results_file = written / f"{tracker.date_id}_results.json"
    for task, config in out["configs"].items():
        mapping = mapping_for(task, config)
        if mapping is not None and task in tasks.loaded:  # so the run page can match items
            write_ids(written, task, list(tasks.loaded[task].test_docs()), mapping)
    read = read_results(results_file, version=version)
    stored = store_scores(folder, run, read.scores(), db) if db is not None else None
    return {"run_key": run.key, "run_dir": str(folder), "smoke": run.tiny,
            "lmms_eval": version, "results": str(results_file),
            "scores": [{"task": t.task, "metric": metric, "value": value, "n": t.n}
                       for t in read.tasks for metric, value in sorted(t.metrics.items())],
            "stored": stored}
