"""CV-Bench (Cambrian-1's vision-centric benchmark) and its layout, shared by the probe.

Official numbers (Cambrian-1, lmms-eval ``cv_bench``): 2D = mean(accuracy on ADE20K, accuracy
on COCO), 3D = accuracy on Omni3D, overall = (2D + 3D) / 2, plus per-source and per-task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.eval.files import (
    LayoutError,
    check_images,
    columns,
    image_bytes,
    read_jsonl,
    read_parquet,
)
from harness.eval.prompts import MULTIPLE_CHOICE_HASH
from harness.eval.scoring import Judged, Metric, accuracy_slices, cvbench_scores
from harness.eval.spec import Benchmark, Item, Table5Column, first_per

FIELDS = ("idx", "type", "task", "source", "choices", "prompt", "answer")
LAYOUT = ("test.jsonl (fields idx, type, task, source, choices, prompt, answer \"(A)\", image)"
          " with the images it names, or test*.parquet")


def load_cvbench_layout(data_dir: Path) -> list[dict[str, Any]]:
    """``test.jsonl`` rows with images relative to ``data_dir`` (CV-Bench's layout)."""
    path = Path(data_dir) / "test.jsonl"
    rows = read_jsonl(path, LAYOUT)
    for n, row in enumerate(rows, 1):
        columns(row, (*FIELDS, "image"), f"{path}:{n}", LAYOUT)
    return rows


def load(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    jsonl = data_dir / "test.jsonl"
    parquet = sorted(data_dir.glob("test*.parquet"))
    if jsonl.exists() or not parquet:
        rows = read_jsonl(jsonl, LAYOUT)
        where = str(jsonl)
    else:
        rows = read_parquet(parquet, LAYOUT)
        where = str(parquet[0])
    items = []
    for n, row in enumerate(rows, 1):
        columns(row, FIELDS, f"{where}:{n}", LAYOUT)
        # The released test.jsonl names the image file ``filename``; parquet embeds it.
        image = image_bytes(row.get("image", row.get("filename")), f"{where}:{n}")
        if image is None:
            raise LayoutError(f"{where}:{n}: no image or filename; expected {LAYOUT}")
        answer = str(row["answer"]).strip().strip("()")
        choices = tuple(str(c) for c in row["choices"])
        if answer not in "ABCDEFGH"[: len(choices)] or not answer:
            raise LayoutError(f"{where}:{n}: answer {row['answer']!r} is not one of the"
                              f" {len(choices)} options; expected \"(A)\"..")
        items.append(Item(idx=str(row["idx"]), question=row["prompt"], image=image,
                          choices=choices, answer=answer, task=row["task"], type=row["type"],
                          source=row["source"]))
    check_images(((i.idx, i.image) for i in items), data_dir, LAYOUT)
    return items


def score(judged: list[Judged]) -> list[Metric]:
    return cvbench_scores(judged) + accuracy_slices(judged)


BENCHMARK = Benchmark(
    name="cv-bench",
    version="1",
    category="Vision-Centric",
    description="CV-Bench (2,638 items): count, relation (ADE20K, COCO) and depth, distance "
                "(Omni3D); overall = (2D + 3D) / 2",
    load=load,
    score=score,
    prompt_hash=MULTIPLE_CHOICE_HASH,
    annotations=("test.jsonl", "test*.parquet"),
    layout=LAYOUT,
    split="test",
    max_new_tokens=8,
    slim={"slim": lambda items: first_per(items, 25, lambda i: f"{i.source}/{i.task}")},
    resample_within="source",
    table5=(Table5Column("CV-Bench-2D", subset="cvbench:2D"),
            Table5Column("CV-Bench-3D", subset="cvbench:3D")),
)
