"""SEED-Bench, image questions only (SEED-I: 14,233 of the 19,242; the rest are video):
four-option multiple choice, accuracy over all image questions and per evaluation dimension."""

from __future__ import annotations

from pathlib import Path

from harness.eval.files import LayoutError, check_images, columns, read_json
from harness.eval.prompts import options_prompt, rendered_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column, first_per

LAYOUT = ("SEED-Bench.json ({\"questions\": [{question_id, question, choice_a..choice_d, "
          "answer, data_id, data_type, question_type_id}], \"question_type\": {name: id}}) "
          "and SEED-Bench-image/<data_id>")


def load(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    path = data_dir / "SEED-Bench.json"
    data = read_json(path, LAYOUT)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise LayoutError(f"{path}: no \"questions\" list; expected {LAYOUT}")
    names = {int(v): k for k, v in (data.get("question_type") or {}).items()}
    items = []
    for n, q in enumerate(data["questions"]):
        columns(q, ("question_id", "question", "choice_a", "choice_b", "choice_c", "choice_d",
                    "answer", "data_id", "data_type", "question_type_id"),
                f"{path}: questions[{n}]", LAYOUT)
        if q["data_type"] != "image":
            continue
        dimension = names.get(int(q["question_type_id"]), str(q["question_type_id"]))
        items.append(Item(idx=str(q["question_id"]), question=q["question"],
                          image=f"SEED-Bench-image/{q['data_id']}",
                          choices=tuple(q[f"choice_{c}"] for c in "abcd"),
                          answer=str(q["answer"]).strip().upper(), category=dimension))
    check_images(((i.idx, i.image) for i in items), data_dir, LAYOUT)
    return items


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)] + accuracy_slices(judged)


def prompt(item: Item) -> str:
    return options_prompt(item.question, item.choices)


BENCHMARK = Benchmark(
    name="seed-image",
    version="1",
    category="General",
    description="SEED-Bench image questions (SEED-I); accuracy overall and per dimension",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("options/v1", prompt,
                              [Item("1", "Which is red?", None, ("apple", "sky"), "A")]),
    annotations=("SEED-Bench.json",),
    layout=LAYOUT,
    split="test",
    max_new_tokens=8,
    slim={"slim": lambda items: first_per(items, 30, lambda i: i.category)},
    table5=(Table5Column("SEED-I"),),
)
