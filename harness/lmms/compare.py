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

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.record import EVAL_DIR, PREDICTIONS_DIR
from harness.store.safe_read import FILE_LIMIT, read_regular

OUTPUT_DIR = "lmms-eval"
"""Under the run's ``eval/``: lmms-eval's results JSON and its samples, as its CLI lays them."""
IDS_PREFIX = "harness_ids_"
MAX_SHOWN = 50
"""Disagreeing items listed per benchmark (the count is always whole)."""


@dataclass(frozen=True)
class Mapping:
    task: str
    benchmark: str
    id_field: str
    """The field of the task's documents that holds the release's question id."""
    metric: str
    """The per-sample metric (and results key) that says whether an item was right."""
    scale: float = 100.0
    """lmms-eval's value times this is on the harness's scale."""
    note: str = ""
    """What differs between the two scorers' rules for this benchmark."""


SHARED: dict[str, Mapping] = {m.task: m for m in (
    Mapping("cv_bench", "cv-bench", "idx", "cv_bench_acc",
            note="lmms-eval's headline is the mean over all items; the harness's follows "
                 "Cambrian (the 2D and 3D halves, each the mean of its sources); lmms-eval "
                 "asks with its own pre-prompt and reads the first letter it finds"),
    Mapping("textvqa_val", "textvqa", "question_id", "exact_match",
            note="both use VQA accuracy over the ten answers (an item is right at full "
                 "credit); lmms-eval's prompt adds no OCR tokens"),
)}
"""lmms-eval 0.7.3's tasks whose documents carry the release's question ids and whose samples
say per item whether it was right. Not listed, so compared by headline only: DocVQA (its
samples keep the answer, ANLS is computed only over all of them), MMVP (lmms-eval numbers its
documents by position and scores single questions, not pairs), MME (two questions share an
id), GQA and the multiple-choice benchmarks whose hub copies were re-indexed."""


def mapping_for(task: str, config: dict[str, Any]) -> Mapping | None:
    """The task's mapping: declared in its config's ``metadata``, else ``SHARED``'s."""
    meta = config.get("metadata") or {}
    if isinstance(meta, dict) and meta.get("harness_benchmark"):
        try:
            return Mapping(task, str(meta["harness_benchmark"]), str(meta["harness_id_field"]),
                           str(meta.get("harness_metric", "accuracy")),
                           float(meta.get("harness_scale", 100.0)))
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


def compare_scorers(run_dir: Path) -> list[dict[str, Any]]:
    """Per benchmark scored by both: both values on the harness's scale over the items both
    scored, how many items, and those where the two disagree (right by one, wrong by the
    other), the first ``MAX_SHOWN`` of them listed."""
    out = []
    for ids_file in sorted((run_dir / EVAL_DIR / OUTPUT_DIR).glob(f"*/{IDS_PREFIX}*.json")):
        task = ids_file.stem[len(IDS_PREFIX):]
        declared = json.loads(read_regular(ids_file, FILE_LIMIT))
        samples = sorted(ids_file.parent.glob(f"*_samples_{task}.jsonl"))
        results = sorted(ids_file.parent.glob("*_results.json"))
        ours = _harness_predictions(run_dir, declared["benchmark"])
        if not samples or not results or not ours:
            continue
        config = json.loads(read_regular(results[-1], FILE_LIMIT)).get("configs", {}).get(task)
        mapping = mapping_for(task, config or {})
        if mapping is None:
            continue
        pairs = []
        for sample in _read_json_lines(samples[-1]):
            idx = declared["ids"].get(str(sample.get("doc_id")))
            theirs = _right(sample.get(mapping.metric))
            if idx is None or idx not in ours or theirs is None:
                continue
            pairs.append((idx, bool(ours[idx].get("correct")), theirs, ours[idx], sample))
        if not pairs:
            continue
        disagree = [{"idx": idx, "harness": {"correct": h, "output": p.get("output", "")},
                     "lmms_eval": {"correct": t, "output": str(s.get("filtered_resps", ""))}}
                    for idx, h, t, p, s in pairs if h != t]
        out.append({
            "benchmark": mapping.benchmark, "task": task, "n": len(pairs),
            "harness": 100.0 * sum(h for _, h, *_ in pairs) / len(pairs),
            "lmms_eval": 100.0 * sum(t for _, _, t, *_ in pairs) / len(pairs),
            "disagree": len(disagree), "items": disagree[:MAX_SHOWN], "note": mapping.note,
        })
    return out
