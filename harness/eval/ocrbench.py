"""OCRBench (1,000 questions, five kinds): a prediction is right when it contains a reference
answer (case-insensitive; for handwritten maths, HME100k, spaces are removed first). The
published score is the count out of 1,000; Cambrian reports it over 10, as a percentage."""

from __future__ import annotations

from pathlib import Path

from harness.eval.files import LayoutError, check_images, columns, read_json
from harness.eval.prompts import rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Grade, Item, Table5Column, first_per

LAYOUT = ("OCRBench.json ([{dataset_name, id, image_path, question, answers, type}]) and the "
          "images it names under OCRBench_Images/")
SUFFIX = "Give the short answer directly."


def contains_answer(prediction: str, answers: tuple[str, ...], dataset: str) -> bool:
    pred = prediction.lower().strip().replace("\n", " ")
    for answer in answers:
        if dataset == "HME100k":
            if answer.strip().replace("\n", " ").replace(" ", "") in pred.replace(" ", ""):
                return True
        elif answer.lower().strip().replace("\n", " ") in pred:
            return True
    return False


def grade(item: Item, output: str) -> Grade:
    return Grade(output.strip(), float(contains_answer(output, item.references, item.source)))


def load(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    path = data_dir / "OCRBench.json"
    rows = read_json(path, LAYOUT)
    if not isinstance(rows, list):
        raise LayoutError(f"{path}: a {type(rows).__name__}, expected a list; {LAYOUT}")
    items = []
    for n, row in enumerate(rows):
        columns(row, ("dataset_name", "image_path", "question", "answers", "type"),
                f"{path}[{n}]", LAYOUT)
        answers = row["answers"] if isinstance(row["answers"], list) else [row["answers"]]
        answers = tuple(str(a) for a in answers)
        items.append(Item(idx=str(row.get("id", n)), question=row["question"],
                          image=f"OCRBench_Images/{row['image_path']}", answer=answers[0],
                          answers=answers, task=row["type"], source=row["dataset_name"]))
    check_images(((i.idx, i.image) for i in items), data_dir, LAYOUT)
    return items


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)] + accuracy_slices(judged)


def prompt(item: Item) -> str:
    return f"{item.question}\n{SUFFIX}"


BENCHMARK = Benchmark(
    name="ocrbench",
    version="1",
    category="OCR & Chart",
    description="OCRBench (1,000 questions); share of predictions containing an answer "
                "(the 1,000-point score / 10)",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("ocrbench/v1", prompt, [Item("1", "what is written?", None)]),
    kind="open",
    grade=grade,
    annotations=("OCRBench.json",),
    layout=LAYOUT,
    split="test",
    max_new_tokens=32,
    slim={"slim": lambda items: first_per(items, 20, lambda i: i.task)},
    table5=(Table5Column("OCRBench"),),
)
