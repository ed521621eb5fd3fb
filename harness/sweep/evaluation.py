"""Evaluate a finished run: rebuild its model from the run folder (its config and
``model/``), score it on benchmarks, keep the predictions and scores under the run's ``eval/``
folder, and optionally add the scores to its record and the store. ``harness eval`` is one
front end of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from harness.data.probes import PROBE_BENCHMARKS
from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.categories import (
    categories,
    category_scores,
    columns_from_scores,
    to_percent,
)
from harness.eval.runner import MODES, EvalOptions, evaluate, select, vision_reliance
from harness.eval.spec import Benchmark
from harness.record import (
    EVAL_DIR,
    RECORD_FILE,
    SCORES_FILE,
    Score,
    atomic_write_text,
    read_eval_scores,
    read_record,
    write_record,
)
from harness.store import Store, ingest_record
from harness.store.store import redacted, resolve_db_url
from harness.sweep.execute import run_transform
from harness.sweep.model import MODEL_DIR, load_model, make_accelerator, read_info
from harness.sweep.plan import Run, load_run

RUN_FOLDER = "a run folder (harness-runs/runs/<key>/ with config.json, run.json and model/)"


def run_folder(checkpoint: Path) -> Path:
    """The run folder ``checkpoint`` names (the folder itself, or its ``model/``)."""
    folder = Path(checkpoint).expanduser()
    if not folder.is_dir():
        raise HarnessError(f"--checkpoint {checkpoint}: no such folder; expected {RUN_FOLDER}")
    if folder.name == MODEL_DIR and (folder.parent / "config.json").is_file():
        folder = folder.parent
    if not (folder / "config.json").is_file():
        raise HarnessError(f"--checkpoint {checkpoint}: no config.json; expected {RUN_FOLDER}")
    return folder


def benchmark_folders(names: list[str], data_dirs: list[str], run: Run) -> dict[str, Path]:
    """Each benchmark's folder from ``--data-dir`` values: ``NAME=DIR`` for one benchmark, or a
    DIR holding one subfolder per benchmark (``DIR/mmvp``), or the folder of the only one."""
    named: dict[str, Path] = {}
    roots: list[Path] = []
    for value in data_dirs:
        name, sep, path = value.partition("=")
        if sep and name in names:
            named[name] = Path(path).expanduser()
        elif sep and not Path(value).exists():
            raise HarnessError(f"--data-dir {value}: {name!r} is not a benchmark of this"
                               f" evaluation; valid: {', '.join(names)}")
        else:
            roots.append(Path(value).expanduser())
    for root in roots:
        if not root.is_dir():
            raise HarnessError(f"--data-dir {root}: no such folder")
    out = {}
    for name in names:
        if name in named:
            out[name] = named[name]
            continue
        found = [root / name for root in roots if (root / name).is_dir()]
        if found:
            out[name] = found[0]
        elif len(names) == 1 and len(roots) == 1:
            out[name] = roots[0]
        elif name in PROBE_BENCHMARKS and Path(run.data_dir).is_dir():
            # The run's own generated probe: its kind's test set.
            out[name] = Path(run.data_dir) / PROBE_BENCHMARKS[name].folder
        else:
            where = ", ".join(str(r / name) for r in roots) or "(no --data-dir given)"
            raise HarnessError(
                f"no data folder for benchmark {name!r}: looked for {where}; give --data-dir"
                f" DIR with one subfolder per benchmark ({', '.join(names)}), or"
                f" --data-dir {name}=DIR")
    return out


def evaluate_run(checkpoint: Path, benchmarks: list[str], data_dirs: list[str], *,
                 mode: str = "generate", blind: bool = False, limit: int | None = None,
                 subset: str | None = None, batch_size: int | None = None,
                 db: str | None = None,
                 on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Rebuild the run's model, evaluate it on each benchmark, keep the predictions and scores
    under ``<run>/eval/``; with ``db``, merge the scores into ``record.json`` and ingest it.
    Every input is checked before the model is built."""
    folder = run_folder(checkpoint)
    # The folder given wins over the one run.json names: a run folder may have been moved.
    run = replace(load_run(folder), run_dir=str(folder))
    read_info(folder)  # a run without a saved model fails here, before any data is read
    if mode not in MODES:
        raise HarnessError(f"unknown --mode {mode!r}; valid: {', '.join(MODES)}")
    if not benchmarks:
        raise HarnessError(f"--benchmarks is empty; valid: {', '.join(BENCHMARKS.names())}")
    chosen: list[Benchmark] = [BENCHMARKS.get(name) for name in benchmarks]
    folders = benchmark_folders(benchmarks, data_dirs, run)
    for benchmark in chosen:  # a wrong layout or subset fails now, not after minutes of work
        select(benchmark.items(folders[benchmark.name]), benchmark, subset=subset, limit=limit)
    if db is not None and not (folder / RECORD_FILE).is_file():
        raise HarnessError(f"--db: {folder} has no {RECORD_FILE} to add the scores to")

    accelerator = make_accelerator(run.config.recipe)
    model, tokenizer, info = load_model(run, accelerator.device)
    variant = EvalOptions(mode=mode, blind=blind).variant  # type: ignore[arg-type]
    results, scores = [], []
    for benchmark in chosen:
        predictions = folder / EVAL_DIR / f"{benchmark.name}{variant}.jsonl"

        def progress(done: int, total: int, name: str = benchmark.name) -> None:
            if on_progress is not None and done < total:
                on_progress(name, done, total)

        with accelerator.autocast():
            found = evaluate(model, tokenizer, benchmark, folders[benchmark.name],
                             run_transform(model.encoder, run.config.image_aspect),
                             batch_size=batch_size or run.eval_batch,
                             predictions_file=predictions, system=run.config.llm.system_prompt,
                             mode=mode, blind=blind, limit=limit, subset=subset,  # type: ignore[arg-type]
                             model_tag=info["id"], on_progress=progress)
        scores += found
        if on_progress is not None:
            n = max((s.n for s in found if s.subset == "overall"), default=0)
            on_progress(benchmark.name, n, n)
        headline = next((s for s in found if s.metric == benchmark.metric + variant
                         and s.subset == "overall"), None)
        results.append({"benchmark": benchmark.name, "metric": benchmark.metric + variant,
                        "value": headline.value if headline else None,
                        "n": headline.n if headline else 0, "scale": benchmark.scale,
                        "data_dir": str(folders[benchmark.name]),
                        "predictions": str(predictions), "scores": [asdict(s) for s in found]})
    kept = _keep_scores(folder, scores)
    reliance = _reliance(kept, scores) if blind else []
    stored = store_scores(folder, run, scores + reliance, db) if db is not None else None
    return {"run_key": run.key, "run_dir": str(folder), "encoder": run.encoder_id,
            "recipe": run.config.recipe.name, "smoke": run.tiny,
            "model": {k: info[k] for k in ("id", "save_model", "parts")},
            "mode": mode, "blind": blind, "limit": limit, "subset": subset,
            "benchmarks": results, "categories": category_report(scores, variant),
            "vision_reliance": [asdict(s) for s in reliance], "stored": stored}


def category_report(scores: list[Score], variant: str = "") -> list[dict]:
    """Cambrian's category averages where all four columns were scored; for the others, the
    columns present and missing (a partial average would not be comparable)."""
    averages = {s.subset: s.value for s in category_scores(scores, variant)}
    columns = columns_from_scores(scores, variant)
    out = []
    for category, names in categories().items():
        present = {n: to_percent(n, columns[n]) for n in names if n in columns}
        if present:
            out.append({"category": category, "average": averages.get(category),
                        "columns": present,
                        "missing": [n for n in names if n not in columns]})
    return out


def _keep_scores(folder: Path, scores: list[Score]) -> list[Score]:
    """Merge into ``eval/scores.json`` (one score per benchmark, metric, subset and dataset
    hash, the latest winning); returns everything kept."""
    path = folder / EVAL_DIR / SCORES_FILE
    kept = read_eval_scores(folder)

    def key(s: Score) -> tuple:
        return s.benchmark, s.metric, s.subset, s.dataset_hash

    merged = {key(s): s for s in kept} | {key(s): s for s in scores}
    atomic_write_text(path, json.dumps({"scores": [asdict(s) for s in merged.values()]},
                                       indent=2))
    return list(merged.values())


def _reliance(kept: list[Score], blind: list[Score]) -> list[Score]:
    """With-image minus blind, from with-image scores an earlier ``harness eval`` (same mode,
    data and prompt) left in ``eval/scores.json``."""
    hashes = {(s.benchmark, s.dataset_hash, s.prompt_hash) for s in blind}
    with_image = [s for s in kept if not s.metric.endswith("_blind")
                  and (s.benchmark, s.dataset_hash, s.prompt_hash) in hashes]
    return vision_reliance(with_image, blind)


def store_scores(folder: Path, run: Run, scores: list[Score], db: str) -> dict:
    """The run folder stays the source of truth: the scores join ``record.json`` (replacing
    those of the same benchmark, metric and subset), then the record is ingested."""
    record = read_record(folder)
    if record.run_key != run.key:
        raise HarnessError(f"{folder / RECORD_FILE}: record of run {record.run_key!r}, but the"
                           f" folder's config is run {run.key!r}")
    new = {(s.benchmark, s.metric, s.subset) for s in scores}
    merged = tuple(s for s in record.scores if (s.benchmark, s.metric, s.subset) not in new)
    record = replace(record, scores=merged + tuple(scores))
    write_record(folder, record)
    url = resolve_db_url(db)
    store = Store(url)
    try:
        changed = ingest_record(store, record, folder)
    finally:
        store.dispose()
    # The report is printed and may be saved: the URL without its password.
    return {"db": redacted(url), "scores": len(scores), "changed": changed}
