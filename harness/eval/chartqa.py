"""ChartQA test (human + augmented): relaxed accuracy, the rule of Methani et al. that
pix2struct, lmms-eval and VLMEvalKit share: a numeric answer within 5% of a non-zero numeric
target is right ("12%" reads as 0.12); anything else needs a case-insensitive exact match."""

from __future__ import annotations

from pathlib import Path

from harness.eval.files import LayoutError, check_images, columns, read_json
from harness.eval.prompts import short_answer, short_answer_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Grade, Item, Table5Column, first_per

LAYOUT = ("test/test_human.json and test/test_augmented.json ([{imgname, query, label}]) "
          "and test/png/<imgname>")
SPLITS = {"human": "test/test_human.json", "augmented": "test/test_augmented.json"}


def _to_float(text: str) -> float | None:
    try:
        return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        return None


def relaxed_correct(prediction: str, target: str, tolerance: float = 0.05) -> bool:
    """True if ``prediction`` is within ``tolerance`` (relative) of a numeric, non-zero
    ``target``, else if it equals the target ignoring case. A zero target falls to the
    string rule (the shared implementations test the target's truth value)."""
    pred, gold = _to_float(prediction), _to_float(target)
    if pred is not None and gold:
        return abs(pred - gold) / abs(gold) <= tolerance
    return prediction.lower() == target.lower()


def grade(item: Item, output: str) -> Grade:
    # VLMEvalKit strips the prediction before comparing; lmms-eval gets it stripped already.
    pred = output.strip()
    return Grade(pred, float(any(relaxed_correct(pred, ref) for ref in item.references)))


def load(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    items = []
    for split, rel in SPLITS.items():
        path = data_dir / rel
        rows = read_json(path, LAYOUT)
        if not isinstance(rows, list):
            raise LayoutError(f"{path}: a {type(rows).__name__}, expected a list; {LAYOUT}")
        for n, row in enumerate(rows):
            columns(row, ("imgname", "query", "label"), f"{path}[{n}]", LAYOUT)
            items.append(Item(idx=f"{split}/{n}", question=row["query"],
                              image=f"test/png/{row['imgname']}", answer=str(row["label"]),
                              source=split))
    check_images(((i.idx, i.image) for i in items), data_dir, LAYOUT)
    return items


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged, "relaxed_accuracy")] + accuracy_slices(judged,
                                                                         "relaxed_accuracy")


BENCHMARK = Benchmark(
    name="chartqa",
    version="1",
    category="OCR & Chart",
    description="ChartQA test (1,250 human + 1,250 augmented); relaxed accuracy (5% numeric "
                "tolerance), overall and per split",
    load=load,
    score=score,
    prompt=short_answer,
    prompt_hash=short_answer_hash([Item("1", "What color is the sign?", None)]),
    kind="open",
    grade=grade,
    metric="relaxed_accuracy",
    annotations=tuple(SPLITS.values()),
    layout=LAYOUT,
    split="test",
    slim={"slim": lambda items: first_per(items, 100, lambda i: i.source)},
    table5=(Table5Column("ChartQA"),),
)
