"""What a benchmark is: its items, how each prediction is graded, how grades are aggregated,
and the versions and hashes that make two of its numbers comparable."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.eval.prompts import MULTIPLE_CHOICE_HASH, multiple_choice_prompt
from harness.eval.scoring import Judged, Metric, extract_letter

Kind = Literal["multiple_choice", "open"]


@dataclass(frozen=True)
class Item:
    """One question, in a layout shared by every benchmark."""

    idx: str
    """Unique within the benchmark; predictions are resumed and joined on it."""
    question: str
    """The benchmark's own text for the question (the template adds the instruction)."""
    image: str | bytes | None
    """A path relative to the data folder, encoded image bytes (parquet, TSV), or None."""
    choices: tuple[str, ...] = ()
    """Option texts of a multiple-choice question, in letter order."""
    answer: str = ""
    """The option letter of a multiple-choice question, else the reference answer."""
    answers: tuple[str, ...] = ()
    """Every reference answer of an open question (TextVQA's ten, DocVQA's variants)."""
    task: str = ""
    type: str = ""
    source: str = ""
    category: str = ""
    """Benchmark-specific slice (MME subtask, SEED dimension, MMMU subject, ...)."""
    group: str = ""
    """Items scored together: an MMVP pair, an MME image, an MMBench circular group."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Extra inputs of the prompt template (hint, OCR tokens, question type)."""

    @property
    def references(self) -> tuple[str, ...]:
        return self.answers or (self.answer,)


@dataclass(frozen=True)
class Grade:
    """What the answer extractor made of one output."""

    extracted: str | None
    credit: float
    """1 for right, 0 for wrong, in between for partial credit (VQA accuracy, ANLS)."""


def grade_letter(item: Item, output: str) -> Grade:
    """Multiple choice: the option letter the output names (or whose text it repeats)."""
    letter = extract_letter(output, item.choices)
    return Grade(letter, float(letter is not None and letter == item.answer))


def judged(item: Item, grade: Grade) -> Judged:
    return Judged(grade.credit >= 1.0, item.task, item.type, item.source, len(item.choices),
                  credit=grade.credit, idx=item.idx, group=item.group, category=item.category)


@dataclass(frozen=True)
class Table5Column:
    """A column of Cambrian-1's Table 5 that a benchmark's numbers fill."""

    name: str
    """As the paper names it: ``MME-P``, ``CV-Bench-2D``."""
    subset: str = "overall"
    metric: str = ""
    """Empty: the benchmark's headline metric."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    version: str
    category: str
    description: str
    load: Callable[[Path], list[Any]]
    """Items (or, for the probe, rows in CV-Bench's layout, see ``as_item``) from a folder."""
    score: Callable[[list[Judged]], list[Metric]]
    prompt: Callable[[Any], str] = lambda item: multiple_choice_prompt(
        item["prompt"] if isinstance(item, dict) else item.question)
    prompt_hash: str = MULTIPLE_CHOICE_HASH
    label_patch: str = ""
    """``name@hash`` of the label corrections applied, or empty."""
    kind: Kind = "multiple_choice"
    grade: Callable[[Item, str], Grade] = grade_letter
    metric: str = "accuracy"
    """The headline metric (subset ``overall``): what leaderboards rank this benchmark by;
    others may be reported beside it."""
    scale: float = 100.0
    """Full scale of the headline metric: 100, or MME's published 2,000 points."""
    annotations: tuple[str, ...] = ()
    """Glob patterns (relative to the data folder) of the files whose bytes are the dataset
    revision: questions and answers, not image folders (hashing gigabytes on every run would
    cost more than the evaluation)."""
    layout: str = ""
    """The official file layout the loader expects, in one line (shown in errors and lists)."""
    split: str = ""
    max_new_tokens: int = 16
    slim: dict[str, Callable[[list[Item]], list[Item]]] = field(default_factory=dict)
    """Named small subsets for fast iteration, e.g. ``slim``."""
    resample_within: str = ""
    """A field of the graded items (``source``) the bootstrap resamples inside, for a
    benchmark whose formula weighs those slices (CV-Bench); empty: all items together."""
    folder: str = ""
    """The folder under a data root holding the release (``DIR/<folder>/``); empty: the
    benchmark's name. Variants of one release share it (``textvqa-ocr`` reads ``textvqa``)."""
    table5: tuple[Table5Column, ...] = ()
    """The Cambrian-1 Table 5 column(s) this benchmark's numbers fill; a category average
    is made of these columns only."""

    @property
    def data_folder(self) -> str:
        return self.folder or self.name

    def fingerprint(self) -> dict[str, str]:
        """What decides this benchmark's numbers: part of every run key."""
        return {"name": self.name, "version": self.version, "prompt_hash": self.prompt_hash,
                "label_patch": self.label_patch}

    def items(self, data_dir: Path) -> list[Item]:
        return [as_item(row) for row in self.load(Path(data_dir))]

    def dataset_hash(self, data_dir: Path) -> str:
        """Hash of the annotation files' names and bytes: the dataset revision."""
        return files_hash(Path(data_dir), self.annotations)


def files_hash(root: Path, patterns: Iterable[str]) -> str:
    digest = hashlib.sha256()
    found = sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})
    for path in found:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


def as_item(row: Item | dict[str, Any]) -> Item:
    """Rows in CV-Bench's layout (idx, type, task, source, choices, prompt, answer "(A)",
    image) become items; items pass through."""
    if isinstance(row, Item):
        return row
    return Item(idx=str(row["idx"]), question=row["prompt"], image=row["image"],
                choices=tuple(row["choices"]), answer=str(row["answer"]).strip().strip("()"),
                task=row.get("task", ""), type=row.get("type", ""),
                source=row.get("source", ""))


def first_per(items: list[Item], n: int, key: Callable[[Item], str]) -> list[Item]:
    """The first ``n`` items of each slice, in the original order (a stratified slim subset)."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        k = key(item)
        if seen.get(k, 0) < n:
            seen[k] = seen.get(k, 0) + 1
            out.append(item)
    return out


def first_groups(items: list[Item], n: int) -> list[Item]:
    """Every item of the first ``n`` groups (pairs stay whole in a slim MMVP or MME)."""
    keep: list[str] = []
    for item in items:
        if item.group not in keep:
            if len(keep) == n:
                continue
            keep.append(item.group)
    chosen = set(keep)
    return [i for i in items if i.group in chosen]
