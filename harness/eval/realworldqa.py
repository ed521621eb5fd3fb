"""RealWorldQA (765 real-world photos, mostly multiple choice): the question text carries its
options ("A. ..." lines) and instruction; a letter answer is read from the output, any other
answer must match exactly (case and punctuation ignored, number words read as digits), as in
lmms-eval's flexible extraction."""

from __future__ import annotations

import re
from pathlib import Path

from harness.eval.files import check_images, columns, image_bytes, read_json, read_parquet
from harness.eval.prompts import rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Grade, Item, Table5Column, grade_letter
from harness.eval.vqa import exact_match

LAYOUT = ("data/test-*.parquet (image, question, answer) as released, or annotations.json "
          "([{image, question, answer}]) with the images it names")
_OPTION = re.compile(r"^\s*([A-H])\.\s+(.+?)\s*$", re.MULTILINE)
_NUMBER_WORDS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                 "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}


def parse_choices(question: str) -> tuple[str, ...]:
    found = _OPTION.findall(question)
    letters = "".join(letter for letter, _ in found)
    # Options must run A, B, C, ... to count (a stray "A. " inside a sentence is not a list).
    return tuple(text for _, text in found) if letters == "ABCDEFGH"[: len(found)] else ()


def grade(item: Item, output: str) -> Grade:
    if item.choices:
        return grade_letter(item, output)
    said = output.strip().rstrip(".")
    said = _NUMBER_WORDS.get(said.lower(), said)
    return Grade(said, float(exact_match(said, item.answer)))


def _item(n: int, question: str, answer: str, image) -> Item:
    choices = parse_choices(question)
    answer = answer.strip()
    return Item(idx=str(n), question=question.strip(), image=image, choices=choices,
                answer=answer.upper() if choices else answer,
                type="multiple_choice" if choices else "open")


def load(data_dir: Path) -> list[Item]:
    root = Path(data_dir)
    parquet = sorted(root.glob("data/test-*.parquet")) or sorted(root.glob("test-*.parquet"))
    if parquet and not (root / "annotations.json").exists():
        items = []
        for n, row in enumerate(read_parquet(parquet, LAYOUT)):
            where = f"{parquet[0]}: row {n}"
            columns(row, ("image", "question", "answer"), where, LAYOUT)
            items.append(_item(n, row["question"], str(row["answer"]),
                               image_bytes(row["image"], where)))
        return items
    path = root / "annotations.json"
    rows = read_json(path, LAYOUT)
    items = []
    for n, row in enumerate(rows):
        columns(row, ("image", "question", "answer"), f"{path}[{n}]", LAYOUT)
        items.append(_item(n, row["question"], str(row["answer"]), str(row["image"])))
    check_images(((i.idx, i.image) for i in items), root, LAYOUT)
    return items


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)] + accuracy_slices(judged)


def prompt(item: Item) -> str:
    return item.question  # the released question already ends with its instruction


BENCHMARK = Benchmark(
    name="realworldqa",
    version="1",
    category="Vision-Centric",
    description="RealWorldQA (765 photos); accuracy, letters for option questions and exact "
                "match for the rest",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("realworldqa/v1", prompt, [Item("1", "Where?\nA. left", None)]),
    grade=grade,
    annotations=("data/test-*.parquet", "test-*.parquet", "annotations.json"),
    layout=LAYOUT,
    split="test",
    max_new_tokens=8,
    slim={"slim": lambda items: items[:150]},
    table5=(Table5Column("RealWorldQA"),),
)
