"""The same run scored by two scorers, the harness and lmms-eval, compared item by item.

A benchmark both have is matched through a documented id mapping: which lmms-eval task it is,
which field of that task's documents holds the release's question id (the harness's item
``idx``), which per-sample metric says an item was right, and the factor that puts
lmms-eval's value on the harness's scale. ``SHARED`` holds the mappings for lmms-eval's own
tasks, read from lmms-eval 0.7.3's task code; a task YAML of your own declares its mapping in
its ``metadata`` (``harness_benchmark``, ``harness_id_field``, ``harness_metric``,
``harness_scale``).

When ``harness eval --lmms-eval-tasks`` runs a mapped task it writes, beside lmms-eval's
results, ``harness_ids_<task>.json``: each lmms-eval document id and the question id it holds.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.record import (
    EVAL_DIR,
    MEASURED,
    PREDICTIONS_DIR,
    Score,
    read_eval_scores,
    read_record,
)
from harness.store.safe_read import FILE_LIMIT, read_regular
from harness.store.summary import OVERALL

OUTPUT_DIR = "lmms-eval"
"""Under the run's ``eval/``: lmms-eval's results JSON and its samples, as its CLI lays them."""
IDS_PREFIX = "harness_ids_"
MAX_SHOWN = 50
"""Disagreeing items listed per benchmark (the count is always whole)."""


@dataclass(frozen=True)
class Mapping:
    task: str
    benchmark: str
    metric: str
    """lmms-eval's metric for the harness benchmark's headline: the results key and, where
    items are matched, the per-sample value that says an item was right."""
    scale: float = 100.0
    """lmms-eval's value times this is on the harness's scale."""
    id_field: str | None = None
    """The field of the task's documents holding the release's question id; None: compared
    by headline only."""
    note: str = ""
    """What differs between the two scorers' rules for this benchmark."""


_READ_BY_POSITION = "lmms-eval numbers its documents by position, not by the release's id"
SHARED: dict[str, Mapping] = {m.task: m for m in (
    Mapping("cv_bench", "cv-bench", "cv_bench_acc", id_field="idx",
            note="lmms-eval's headline is the mean over all items; the harness's follows "
                 "Cambrian (the 2D and 3D halves, each the mean of its sources); lmms-eval "
                 "asks with its own pre-prompt and reads the first letter it finds"),
    Mapping("textvqa_val", "textvqa", "exact_match", id_field="question_id",
            note="both use VQA accuracy over the ten answers (an item is right at full "
                 "credit); lmms-eval's prompt adds no OCR tokens"),
    Mapping("mmvp", "mmvp", "mmvp_pair_accuracy",
            note="both count a pair right when both its questions are; " + _READ_BY_POSITION),
    Mapping("gqa", "gqa", "exact_match", note="lmms-eval: exact match of the whole answer"),
    Mapping("chartqa", "chartqa", "relaxed_overall",
            note="both use relaxed accuracy (5% on numbers)"),
    Mapping("docvqa_val", "docvqa", "anls",
            note="both use ANLS at 0.5; lmms-eval's samples keep only the answer, so items "
                 "are not matched"),
    Mapping("mme", "mme", "mme_perception_score", scale=1.0,
            note="both in points (accuracy + accuracy+ per subtask); two questions share an "
                 "id in lmms-eval, so items are not matched"),
    Mapping("ai2d", "ai2d", "exact_match", note=_READ_BY_POSITION),
    Mapping("realworldqa", "realworldqa", "exact_match", note=_READ_BY_POSITION),
    Mapping("scienceqa_img", "scienceqa-img", "exact_match", note=_READ_BY_POSITION),
    Mapping("ocrbench", "ocrbench", "ocrbench_accuracy",
            note="lmms-eval reports the final score over 1000 as a fraction"),
    Mapping("mmmu_val", "mmmu", "mmmu_acc", note=_READ_BY_POSITION),
)}
"""lmms-eval 0.7.3's tasks for the harness's benchmarks, read from its task code (not checked
against its hub datasets, which this project's machines cannot reach). Items are matched
where the documents carry the release's question id and the samples say per item whether it
was right: CV-Bench and TextVQA. MMBench is left out: lmms-eval scores it with a GPT judge."""


def mapping_for(task: str, config: dict[str, Any]) -> Mapping | None:
    """The task's mapping: declared in its config's ``metadata``, else ``SHARED``'s."""
    meta = config.get("metadata") or {}
    if isinstance(meta, dict) and meta.get("harness_benchmark"):
        try:
            return Mapping(task, str(meta["harness_benchmark"]),
                           str(meta.get("harness_metric", "accuracy")),
                           float(meta.get("harness_scale", 100.0)),
                           str(meta["harness_id_field"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise HarnessError(f"lmms-eval task {task!r}: metadata maps it to a harness "
                               f"benchmark but {exc} is missing or not a number") from None
    return SHARED.get(task)


def write_ids(folder: Path, task: str, docs: list[dict[str, Any]], mapping: Mapping) -> Path:
    """``harness_ids_<task>.json``: document id (position) -> the question id it holds."""
    ids = {}
    for doc_id, doc in enumerate(docs):
        if mapping.id_field not in doc:
            raise HarnessError(f"lmms-eval task {task!r}: its documents have no "
                               f"{mapping.id_field!r} field to match the harness's items by")
        ids[str(doc_id)] = str(doc[mapping.id_field])
    path = folder / f"{IDS_PREFIX}{task}.json"
    path.write_text(json.dumps({"benchmark": mapping.benchmark, "ids": ids}))
    return path


def _read_json_lines(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in read_regular(path, FILE_LIMIT).decode("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _right(value: Any) -> bool | None:
    """Whether a per-sample metric value means the item was right, as the harness counts it:
    full credit (a number at 1), or a task's own ``is_correct`` (CV-Bench's samples keep a
    record per item); None where the sample cannot tell."""
    if isinstance(value, dict):
        value = value.get("is_correct")
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value >= 1.0 - 1e-9
    return None


def _harness_predictions(run_dir: Path, benchmark: str) -> dict[str, dict[str, Any]]:
    """The run's own predictions of ``benchmark``: ``harness eval``'s, else the job's."""
    for path in (run_dir / EVAL_DIR / f"{benchmark}.jsonl",
                 run_dir / PREDICTIONS_DIR / f"{benchmark}.jsonl"):
        if path.is_file():
            return {str(p["idx"]): p for p in _read_json_lines(path) if "idx" in p}
    return {}


def _harness_headlines(run_dir: Path) -> dict[str, Score]:
    """The run's own headline score per benchmark (measured, overall): the job's, in its
    record, replaced by a later ``harness eval``'s (``eval/scores.json``)."""
    scores: list[Score] = []
    with contextlib.suppress(HarnessError, OSError, ValueError):
        scores += read_record(run_dir).scores
    with contextlib.suppress(HarnessError):  # not a regular file, or over the bound
        # The run page reads folders it does not trust: the file is bounded, as others here.
        scores += read_eval_scores(run_dir, lambda path: read_regular(path, FILE_LIMIT))
    return {s.benchmark: s for s in scores if s.kind == MEASURED and s.subset == OVERALL
            and s.benchmark in BENCHMARKS and s.metric == BENCHMARKS.get(s.benchmark).metric}


def _latest_results(run_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Per lmms-eval task, the results file that scored it last, and that file's content."""
    latest: dict[str, tuple[Path, dict[str, Any]]] = {}
    # lmms-eval names its files by date, so sorted names run oldest to newest.
    for path in sorted((run_dir / EVAL_DIR / OUTPUT_DIR).glob("*/*_results.json"),
                       key=lambda p: p.name):
        data = json.loads(read_regular(path, FILE_LIMIT))
        for task in (data.get("configs") or {}):
            latest[task] = (path, data)
    return latest


def _matched_items(path: Path, task: str, mapping: Mapping, run_dir: Path
                   ) -> list[tuple[str, bool, bool, dict, dict]] | str:
    """(question id, right by the harness, right by lmms-eval, the two predictions) per item
    both scored; or why items cannot be matched."""
    if mapping.id_field is None:
        return mapping.note or "compared by headline only"
    ids_file = path.parent / f"{IDS_PREFIX}{task}.json"
    samples = sorted(path.parent.glob(f"*_samples_{task}.jsonl"), key=lambda p: p.name)
    ours = _harness_predictions(run_dir, mapping.benchmark)
    if not ids_file.is_file() or not samples:
        return "lmms-eval's samples or the document ids are missing (run it through harness eval)"
    if not ours:
        return f"no harness predictions of {mapping.benchmark} in this run"
    ids = json.loads(read_regular(ids_file, FILE_LIMIT))["ids"]
    pairs = []
    for sample in _read_json_lines(samples[-1]):
        idx = ids.get(str(sample.get("doc_id")))
        theirs = _right(sample.get(mapping.metric))
        if idx is not None and idx in ours and theirs is not None:
            pairs.append((idx, bool(ours[idx].get("correct")), theirs, ours[idx], sample))
    return pairs or "no item scored by both"


def compare_scorers(run_dir: Path) -> list[dict[str, Any]]:
    """Per benchmark scored by both: each scorer's headline on the harness's scale, and where
    items can be matched, how many both scored, both values over those items and the items
    where they disagree (right by one, wrong by the other; the first ``MAX_SHOWN`` listed)."""
    latest = _latest_results(run_dir)
    if not latest:  # the usual run page: no lmms-eval files, so nothing else to read
        return []
    ours = _harness_headlines(run_dir)
    out = []
    for task, (path, data) in sorted(latest.items()):
        mapping = mapping_for(task, data["configs"][task] or {})
        if mapping is None or mapping.benchmark not in ours:
            continue
        theirs = (data.get("results") or {}).get(task, {}).get(f"{mapping.metric},none")
        entry: dict[str, Any] = {
            "benchmark": mapping.benchmark, "task": task, "note": mapping.note,
            "harness": ours[mapping.benchmark].value,
            "lmms_eval": theirs * mapping.scale if isinstance(theirs, int | float) else None,
            "matched": None, "items": [], "disagree": None, "n": None,
            "harness_matched": None, "lmms_eval_matched": None}
        pairs = _matched_items(path, task, mapping, run_dir)
        if isinstance(pairs, str):
            entry["matched"] = pairs
        else:
            disagree = [{"idx": idx, "harness": {"correct": h, "output": p.get("output", "")},
                         "lmms_eval": {"correct": t,
                                       "output": str(s.get("filtered_resps", ""))}}
                        for idx, h, t, p, s in pairs if h != t]
            entry.update(n=len(pairs), disagree=len(disagree), items=disagree[:MAX_SHOWN],
                         harness_matched=100.0 * sum(h for _, h, *_ in pairs) / len(pairs),
                         lmms_eval_matched=100.0 * sum(t for _, _, t, *_ in pairs) / len(pairs))
        out.append(entry)
    return out
