"""MathVista testmini (1,000 questions): the released ``query`` (question with its hint and
choices) as the prompt; multiple choice read as a letter, free-form answers by Cambrian's
short-answer rule (exact, or within 5% for numbers). The official scorer asks GPT-4 to extract
the answer first; this is the rule-based reading Cambrian's own script uses. Deliberate
difference: the multiple-choice suffix asks for the letter (Cambrian asked for reasoning)."""

from __future__ import annotations

from pathlib import Path

from harness.eval.answers import grade_mixed
from harness.eval.files import (
    LayoutError,
    check_images,
    columns,
    image_bytes,
    read_json,
    read_parquet,
)
from harness.eval.prompts import LETTERS, MULTIPLE_CHOICE_SUFFIX, SHORT_ANSWER_SUFFIX, rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column, first_per

LAYOUT = ("data/testmini-*.parquet (pid, query, question_type, choices, answer, decoded_image,"
          " metadata), or testmini.json ({pid: {...}}) with images/<pid>.<ext>")


def _item(row: dict, where: str, image) -> Item:
    columns(row, ("pid", "query", "question_type", "answer"), where, LAYOUT)
    meta = row.get("metadata") or {}
    choices = tuple(str(c) for c in (row.get("choices") or []))
    if row["question_type"] == "multi_choice":
        if str(row["answer"]) not in choices:
            raise LayoutError(f"{where}: answer {row['answer']!r} is not one of its choices")
        answer = LETTERS[choices.index(str(row["answer"]))]
    else:
        choices, answer = (), str(row["answer"])
    return Item(idx=str(row["pid"]), question=row["query"], image=image, choices=choices,
                answer=answer, type=row["question_type"], category=meta.get("category", ""),
                task=meta.get("task", ""))


def load(data_dir: Path) -> list[Item]:
    root = Path(data_dir)
    parquet = sorted(root.glob("data/testmini-*.parquet"))
    if parquet and not (root / "testmini.json").exists():
        return [_item(row, f"{parquet[0]}: row {n}",
                      image_bytes(row.get("decoded_image") or row.get("image"),
                                  f"{parquet[0]}: row {n}"))
                for n, row in enumerate(read_parquet(parquet, LAYOUT))]
    path = root / "testmini.json"
    data = read_json(path, LAYOUT)
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: a {type(data).__name__}, expected {LAYOUT}")
    items = [_item(row, f"{path}: {pid}", str(row.get("image", f"images/{pid}.jpg")))
             for pid, row in data.items()]
    check_images(((i.idx, i.image) for i in items), root, LAYOUT)
    return items


def prompt(item: Item) -> str:
    suffix = MULTIPLE_CHOICE_SUFFIX if item.choices else SHORT_ANSWER_SUFFIX
    return f"{item.question}\n{suffix}"


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)] + accuracy_slices(judged)


BENCHMARK = Benchmark(
    name="mathvista",
    version="1",
    category="Knowledge",
    description="MathVista testmini (1,000 questions); rule-based answer reading, accuracy",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("mathvista/v1", prompt, [
        Item("1", "Hint: pick one.\nQuestion: Which?\nChoices:\n(A) 1\n(B) 2", None,
             ("1", "2"), "A"),
        Item("2", "Hint: integer.\nQuestion: How many?", None, answer="3")]),
    grade=grade_mixed,
    annotations=("data/testmini-*.parquet", "testmini.json"),
    layout=LAYOUT,
    split="testmini",
    max_new_tokens=16,
    slim={"slim": lambda items: first_per(items, 50, lambda i: i.category)},
    table5=(Table5Column("MathVista-M"),),
)
