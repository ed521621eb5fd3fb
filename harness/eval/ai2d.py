"""AI2D test (3,088 diagram questions, four options): accuracy. Reads the official AI2D release
(questions/<image>.json, images/, ai2d_test_ids.csv) or the parquet copy lmms-eval and
Cambrian use (question, options, answer index, image)."""

from __future__ import annotations

from pathlib import Path

from harness.eval.files import (
    LayoutError,
    check_images,
    columns,
    image_bytes,
    need,
    read_json,
    read_parquet,
)
from harness.eval.prompts import LETTERS, MULTIPLE_CHOICE_SUFFIX, options_block, rendered_hash
from harness.eval.scoring import Judged, Metric, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column

LAYOUT = ("ai2d_test_ids.csv, questions/<id>.png.json ({imageName, questions: {text: "
          "{answerTexts, correctAnswer, questionId}}}) and images/<id>.png; or "
          "data/test-*.parquet (question, options, answer, image)")


def load(data_dir: Path) -> list[Item]:
    root = Path(data_dir)
    parquet = sorted(root.glob("data/test-*.parquet")) or sorted(root.glob("test-*.parquet"))
    if parquet and not (root / "ai2d_test_ids.csv").exists():
        return _parquet(parquet)
    ids = [ln.strip() for ln in need(root / "ai2d_test_ids.csv", LAYOUT).read_text()
           .splitlines() if ln.strip()]
    items = []
    for image_id in ids:
        path = root / "questions" / f"{image_id}.png.json"
        doc = read_json(path, LAYOUT)
        columns(doc, ("questions",), str(path), LAYOUT)
        image = f"images/{doc.get('imageName', f'{image_id}.png')}"
        for text, q in doc["questions"].items():
            columns(q, ("answerTexts", "correctAnswer"), f"{path}: {text!r}", LAYOUT)
            items.append(Item(idx=str(q.get("questionId", f"{image_id}-{len(items)}")),
                              question=text, image=image, choices=tuple(q["answerTexts"]),
                              answer=LETTERS[int(q["correctAnswer"])]))
    check_images(((i.idx, i.image) for i in items), root, LAYOUT)
    return items


def _parquet(paths: list[Path]) -> list[Item]:
    items = []
    for n, row in enumerate(read_parquet(paths, LAYOUT)):
        where = f"{paths[0]}: row {n}"
        columns(row, ("question", "options", "answer", "image"), where, LAYOUT)
        answer = int(row["answer"])
        if not 0 <= answer < len(row["options"]):
            raise LayoutError(f"{where}: answer {answer} out of {len(row['options'])} options")
        items.append(Item(idx=str(n), question=row["question"],
                          image=image_bytes(row["image"], where),
                          choices=tuple(row["options"]), answer=LETTERS[answer]))
    return items


def prompt(item: Item) -> str:
    """Cambrian's AI2D template: question, lettered options, the multiple-choice suffix."""
    return f"{item.question}{options_block(item.choices)}\n{MULTIPLE_CHOICE_SUFFIX}"


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged)]


BENCHMARK = Benchmark(
    name="ai2d",
    version="1",
    category="Knowledge",
    description="AI2D test (3,088 diagram questions); accuracy",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("ai2d/v1", prompt,
                              [Item("1", "Which is red?", None, ("apple", "sky"), "A")]),
    annotations=("ai2d_test_ids.csv", "questions/*.json", "data/test-*.parquet",
                 "test-*.parquet"),
    layout=LAYOUT,
    split="test",
    max_new_tokens=8,
    slim={"slim": lambda items: items[:300]},
    table5=(Table5Column("AI2D"),),
)
