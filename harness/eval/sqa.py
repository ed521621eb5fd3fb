"""ScienceQA-IMG: the test questions that come with an image (2,017), multiple choice with the
lecture's hint as context, scored by accuracy overall and per subject and grade."""

from __future__ import annotations

from pathlib import Path

from harness.eval.files import LayoutError, check_images, columns, read_json
from harness.eval.prompts import LETTERS, options_block, rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column, first_per

LAYOUT = ("problems.json ({pid: {question, choices, answer (index), hint, image, split, "
          "subject, grade}}), pid_splits.json and images/test/<pid>/<image>")
SUFFIX = "Please answer directly with only the letter of the correct option and nothing else."


def load(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    path = data_dir / "problems.json"
    problems = read_json(path, LAYOUT)
    splits = read_json(data_dir / "pid_splits.json", LAYOUT)
    if not isinstance(problems, dict) or not isinstance(splits, dict) or "test" not in splits:
        raise LayoutError(f"{path}: expected {LAYOUT}")
    items = []
    for pid in splits["test"]:
        p = problems.get(str(pid))
        if p is None:
            raise LayoutError(f"{data_dir / 'pid_splits.json'}: test id {pid} is not in {path}")
        columns(p, ("question", "choices", "answer"), f"{path}: {pid}", LAYOUT)
        if not p.get("image"):
            continue  # ScienceQA-IMG: only the questions with an image
        answer = int(p["answer"])
        if not 0 <= answer < len(p["choices"]):
            raise LayoutError(f"{path}: {pid}: answer {answer} out of {len(p['choices'])} "
                              "choices")
        items.append(Item(idx=str(pid), question=p["question"],
                          image=f"images/test/{pid}/{p['image']}", choices=tuple(p["choices"]),
                          answer=LETTERS[answer], task=p.get("subject", ""),
                          category=p.get("grade", ""), meta={"hint": p.get("hint") or ""}))
    check_images(((i.idx, i.image) for i in items), data_dir, LAYOUT)
    return items


def prompt(item: Item) -> str:
    """Cambrian's ScienceQA template: hint and question on one line, lettered options, and
    its own suffix."""
    hint = item.meta.get("hint", "")
    head = f"{hint} {item.question}" if hint else item.question
    return f"{head}{options_block(item.choices)}\n{SUFFIX}"


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)] + accuracy_slices(judged)


BENCHMARK = Benchmark(
    name="scienceqa-img",
    version="1",
    category="Knowledge",
    description="ScienceQA test questions with an image (SQA-I, 2,017); accuracy",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("scienceqa/v1", prompt, [
        Item("1", "Which is red?", None, ("apple", "sky"), "A", meta={"hint": "A fruit."})]),
    annotations=("problems.json", "pid_splits.json"),
    layout=LAYOUT,
    split="test",
    max_new_tokens=8,
    slim={"slim": lambda items: first_per(items, 70, lambda i: i.task)},
    table5=(Table5Column("SQA-I"),),
)
