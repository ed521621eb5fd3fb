"""Answer extraction and metrics: letters out of free text, accuracy per slice, and CV-Bench's
aggregation (2D = mean over its sources, 3D likewise, overall = (2D + 3D) / 2)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LETTERS = "ABCDEFGH"

# Tried in order; the first that matches wins. Each pattern reflects a habit seen in MLLM
# output: "(B)", "B.", "B)", "Answer: B", a bare "B", or "The answer is B".
_PATTERNS = [
    re.compile(r"^\s*\(?([A-H])\)?\s*(?:[.:)\]]|$|\s)"),
    re.compile(r"(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-H])\)?\b", re.IGNORECASE),
    re.compile(r"\(([A-H])\)"),
]


def extract_letter(text: str, choices: Sequence[str] = ()) -> str | None:
    """The option letter an answer names, or None if it names none of the choices."""
    valid = LETTERS[: len(choices)] if choices else LETTERS
    for pattern in _PATTERNS:
        m = pattern.search(text)
        if m and m.group(1).upper() in valid:
            return m.group(1).upper()
    # An answer that repeats exactly one option's text counts as that option.
    said = text.strip().strip(".").lower()
    hits = [i for i, c in enumerate(choices) if c.lower() == said]
    if len(hits) == 1:
        return valid[hits[0]]
    return None


@dataclass(frozen=True)
class Judged:
    """One graded prediction with the fields metrics slice on."""

    correct: bool
    task: str
    type: str
    source: str
    n_choices: int


@dataclass(frozen=True)
class Metric:
    subset: str
    value: float  # 0-100
    n: int
    chance: float | None = None


def accuracy_slices(judged: Iterable[Judged]) -> list[Metric]:
    """Accuracy overall and per task, type and source, each with its chance level."""
    judged = list(judged)
    groups: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        for key in (f"task:{j.task}", f"type:{j.type}", f"source:{j.source}"):
            groups[key].append(j)
    out = []
    for subset, items in sorted(groups.items()):
        out.append(_accuracy(subset, items))
    return out


def cvbench_scores(judged: Iterable[Judged]) -> list[Metric]:
    """CV-Bench's official numbers: 2D is the mean of per-source accuracy over the 2D sources
    (ADE20K, COCO), 3D that over the 3D sources (Omni3D), overall the mean of 2D and 3D."""
    judged = list(judged)
    by_type: dict[str, dict[str, list[Judged]]] = defaultdict(lambda: defaultdict(list))
    for j in judged:
        by_type[j.type][j.source].append(j)
    out = []
    type_means = []
    for kind in sorted(by_type):
        sources = by_type[kind]
        accs = [_accuracy("", items) for items in sources.values()]
        n = sum(m.n for m in accs)
        value = sum(m.value for m in accs) / len(accs)
        chance = sum(m.chance or 0 for m in accs) / len(accs)
        out.append(Metric(f"cvbench:{kind}", value, n, chance))
        type_means.append(out[-1])
    if type_means:
        out.append(Metric(
            "overall",
            sum(m.value for m in type_means) / len(type_means),
            sum(m.n for m in type_means),
            sum(m.chance or 0 for m in type_means) / len(type_means),
        ))
    return out


def _accuracy(subset: str, items: list[Judged]) -> Metric:
    n = len(items)
    value = 100.0 * sum(j.correct for j in items) / n
    chance = 100.0 * sum(1 / j.n_choices for j in items) / n
    return Metric(subset, value, n, chance)
