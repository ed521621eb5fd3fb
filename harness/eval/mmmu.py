"""MMMU validation (900 college-level questions over 30 subjects): multiple choice read as a
letter, open questions by Cambrian's short-answer rule; accuracy overall (micro) and per
subject. Our MLLM takes one image: a question's first image (``image_1``) is shown, as in
Cambrian's evaluation, and ``<image k>`` tags are removed from the text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from harness.eval.answers import grade_mixed
from harness.eval.files import LayoutError, columns, image_bytes, need, read_parquet
from harness.eval.prompts import LETTERS, SHORT_ANSWER_SUFFIX, options_prompt, rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column, first_per

LAYOUT = ("<Subject>/validation-*.parquet per subject (id, question, options, answer, image_1, "
          "question_type), as released")
_TAG = re.compile(r"<image \d+>")


def _literal_list(text: str, where: str) -> list[str]:
    try:
        value = ast.literal_eval(text)  # a Python list literal, parsed without evaluating code
    except (ValueError, SyntaxError):
        raise LayoutError(f"{where}: options {text[:40]!r} are not a list literal") from None
    if not isinstance(value, list):
        raise LayoutError(f"{where}: options {text[:40]!r} are not a list")
    return [str(v) for v in value]


def load(data_dir: Path) -> list[Item]:
    root = Path(data_dir)
    paths = sorted(root.glob("*/validation-*.parquet"))
    if not paths:
        need(root / "Accounting" / "validation-00000-of-00001.parquet", LAYOUT)
    items = []
    for path in paths:
        for n, row in enumerate(read_parquet([path], LAYOUT)):
            where = f"{path}: row {n}"
            columns(row, ("id", "question", "options", "answer", "image_1", "question_type"),
                    where, LAYOUT)
            subject = path.parent.name
            if row["question_type"] == "multiple-choice":
                choices = tuple(_literal_list(row["options"], where))
                answer = str(row["answer"]).strip()
                if answer not in LETTERS[: len(choices)] or not answer:
                    raise LayoutError(f"{where}: answer {answer!r} is not one of "
                                      f"{len(choices)} options")
                answers: tuple[str, ...] = ()
            else:
                choices = ()
                text = str(row["answer"]).strip()
                answers = tuple(_literal_list(text, where)) if text.startswith("[") else ()
                answer = answers[0] if answers else text
            items.append(Item(idx=str(row["id"]), question=row["question"],
                              image=image_bytes(row["image_1"], where), choices=choices,
                              answer=answer, answers=answers, category=subject,
                              type=row["question_type"]))
    return items


def prompt(item: Item) -> str:
    if item.choices:
        text = options_prompt(item.question, item.choices)
    else:
        text = f"{item.question}\n{SHORT_ANSWER_SUFFIX}"
    return _TAG.sub("", text).strip()


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)] + accuracy_slices(judged)


BENCHMARK = Benchmark(
    name="mmmu",
    version="1",
    category="Knowledge",
    description="MMMU validation (900 questions, 30 subjects); accuracy, first image shown",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("mmmu/v1", prompt, [
        Item("1", "<image 1> Which is red?", None, ("apple", "sky"), "A"),
        Item("2", "How many? <image 1>", None, answer="3")]),
    grade=grade_mixed,
    annotations=("*/validation-*.parquet",),
    layout=LAYOUT,
    split="validation",
    max_new_tokens=16,
    slim={"slim": lambda items: first_per(items, 5, lambda i: i.category)},
    table5=(Table5Column("MMMU-V"),),
)
