"""MMBench (English dev) with circular evaluation: each question is asked once per rotation of
its options, and counts only if every rotation is answered right (VLMEvalKit's rule; rows
whose ``index`` differs by a multiple of 1,000,000 are rotations of one question). A file
without the rotated copies gets them generated here, the same way."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.eval.files import (
    LayoutError,
    columns,
    first_existing,
    image_bytes,
    read_parquet,
    read_table,
)
from harness.eval.prompts import LETTERS, options_prompt, rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, group_accuracy, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column, first_groups

LAYOUT = ("MMBench_DEV_EN.tsv (index, question, hint, A, B, C, D, answer, category, image "
          "as base64) or data/dev-*.parquet with the same columns")
CIRCULAR = 1_000_000


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or \
        str(value).strip() in ("", "nan", "NaN", "None")


def _rows(root: Path) -> tuple[list[dict[str, Any]], str]:
    parquet = sorted(root.glob("data/dev-*.parquet")) or sorted(root.glob("dev-*.parquet"))
    if parquet and not (root / "MMBench_DEV_EN.tsv").exists():
        return read_parquet(parquet, LAYOUT), str(parquet[0])
    path = first_existing(root, ("MMBench_DEV_EN.tsv", "mmbench_dev_en.tsv"), LAYOUT)
    return read_table(path, LAYOUT, delimiter="\t"), str(path)


def _image(row: dict[str, Any], by_index: dict[int, dict[str, Any]], where: str):
    cell = row["image"]
    # VLMEvalKit's TSVs store a rotated copy's image as the index of the row that holds it.
    if isinstance(cell, str) and cell.isdigit() and len(cell) <= 64:
        source = by_index.get(int(cell))
        if source is None:
            raise LayoutError(f"{where}: image refers to index {cell}, which is not in the file")
        cell = source["image"]
    if isinstance(cell, str):

        try:
            return base64.b64decode(cell, validate=True)
        except (binascii.Error, ValueError):
            raise LayoutError(f"{where}: image is not base64; expected {LAYOUT}") from None
    return image_bytes(cell, where)


def load(data_dir: Path) -> list[Item]:
    rows, where = _rows(Path(data_dir))
    by_index: dict[int, dict[str, Any]] = {}
    for n, row in enumerate(rows):
        columns(row, ("index", "question", "A", "B", "answer", "image"), f"{where}: row {n}",
                LAYOUT)
        by_index[int(row["index"])] = row
    items = []
    for n, row in enumerate(rows):
        at = f"{where}: row {n}"
        index = int(row["index"])
        choices = tuple(str(row[k]) for k in "ABCDEFGH" if k in row and not _blank(row[k]))
        answer = str(row["answer"]).strip()
        if answer not in LETTERS[: len(choices)] or not answer:
            raise LayoutError(f"{at}: answer {answer!r} is not one of the {len(choices)} options")
        hint = "" if _blank(row.get("hint")) else str(row["hint"])
        items.append(Item(idx=str(index), question=str(row["question"]),
                          image=_image(row, by_index, at), choices=choices, answer=answer,
                          category=str(row.get("category", "") or ""),
                          group=str(index % CIRCULAR), meta={"hint": hint}))
    sizes = defaultdict(int)
    for item in items:
        sizes[item.group] += 1
    if all(size == 1 for size in sizes.values()):
        items = [r for item in items for r in rotations(item)]
    return items


def rotations(item: Item) -> list[Item]:
    """The item and its k - 1 rotations (option i shown as option i - r), answers remapped."""
    k = len(item.choices)
    answer = LETTERS.index(item.answer)
    out = [item]
    for r in range(1, k):
        choices = tuple(item.choices[(i + r) % k] for i in range(k))
        out.append(Item(idx=str(int(item.idx) + r * CIRCULAR), question=item.question,
                        image=item.image, choices=choices, answer=LETTERS[(answer - r) % k],
                        category=item.category, group=item.group, meta=item.meta))
    return out


def score(judged: list[Judged]) -> list[Metric]:
    by_category: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        by_category[j.category].append(j)
    out = [group_accuracy(judged, "circular_accuracy"), mean_accuracy(judged)]
    out += [group_accuracy(items, "circular_accuracy", f"category:{c}")
            for c, items in sorted(by_category.items()) if c]
    return out + accuracy_slices(judged)


def prompt(item: Item) -> str:
    return options_prompt(item.question, item.choices, item.meta.get("hint", ""))


BENCHMARK = Benchmark(
    name="mmbench",
    version="1",
    category="General",
    description="MMBench-EN dev; circular accuracy (headline: every rotation right) and "
                "per-row accuracy",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("mmbench/v1", prompt, [
        Item("1", "Which is red?", None, ("apple", "sky"), "A", meta={"hint": "A fruit."})]),
    metric="circular_accuracy",
    annotations=("MMBench_DEV_EN.tsv", "mmbench_dev_en.tsv", "data/dev-*.parquet",
                 "dev-*.parquet"),
    layout=LAYOUT,
    split="dev",
    max_new_tokens=8,
    slim={"slim": lambda items: first_groups(items, 150)},
    table5=(Table5Column("MMB"),),
)
