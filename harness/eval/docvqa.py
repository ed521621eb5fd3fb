"""DocVQA val: ANLS (average normalised Levenshtein similarity, Biten et al.) as the official
RRC evaluation script computes it: per question, the best 1 - distance / length over the
answers, the distance between the lower-cased, whitespace-collapsed texts and the length that
of the longer raw text, upper-cased (``max(len(gt.upper()), len(pred.upper()))``); 0 when the
similarity is below 0.5."""

from __future__ import annotations

from pathlib import Path

from harness.eval.files import LayoutError, check_images, columns, first_existing, read_json
from harness.eval.prompts import short_answer, short_answer_hash
from harness.eval.scoring import Judged, Metric, accuracy_slices, mean_accuracy
from harness.eval.spec import Benchmark, Grade, Item, Table5Column

LAYOUT = ("val/val_v1.0_withQT.json or val/val_v1.0.json ({\"data\": [{questionId, question, "
          "image \"documents/..\", answers}]}) with the images under val/")
THRESHOLD = 0.5


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _norm(text: str) -> str:
    return " ".join(text.strip().lower().split())


def anls(prediction: str, answers: tuple[str, ...] | list[str],
         threshold: float = THRESHOLD) -> float:
    """ANLS of one prediction against its answers, in [0, 1]."""
    pred = _norm(prediction)
    best = 0.0
    for answer in answers:
        gold = _norm(answer)
        # The official denominator: raw lengths, upper-cased ("ß" becomes "SS"), so repeated
        # inner spaces and such letters count, though the distance ignores them.
        length = max(len(answer.upper()), len(prediction.upper()))
        best = max(best, 1.0 if length == 0 else 1.0 - levenshtein(gold, pred) / length)
    return best if best >= threshold else 0.0


def grade(item: Item, output: str) -> Grade:
    return Grade(_norm(output), anls(output, item.references))


def load(data_dir: Path) -> list[Item]:
    data_dir = Path(data_dir)
    path = first_existing(data_dir, ("val/val_v1.0_withQT.json", "val/val_v1.0.json"), LAYOUT)
    data = read_json(path, LAYOUT)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise LayoutError(f"{path}: no \"data\" list; expected {LAYOUT}")
    items = []
    for n, q in enumerate(data["data"]):
        columns(q, ("questionId", "question", "image", "answers"), f"{path}: data[{n}]", LAYOUT)
        types = q.get("question_types") or []
        items.append(Item(idx=str(q["questionId"]), question=q["question"],
                          image=f"val/{q['image']}", answer=q["answers"][0],
                          answers=tuple(q["answers"]), type=types[0] if types else ""))
    check_images(((i.idx, i.image) for i in items), data_dir, LAYOUT)
    return items


def score(judged: list[Judged]) -> list[Metric]:
    return [mean_accuracy(judged, "anls")] + accuracy_slices(judged, "anls")


BENCHMARK = Benchmark(
    name="docvqa",
    version="1",
    category="OCR & Chart",
    description="DocVQA val (5,349 questions); ANLS with threshold 0.5",
    load=load,
    score=score,
    prompt=short_answer,
    prompt_hash=short_answer_hash([Item("1", "What color is the sign?", None)]),
    kind="open",
    grade=grade,
    metric="anls",
    annotations=("val/val_v1.0_withQT.json", "val/val_v1.0.json"),
    layout=LAYOUT,
    split="val",
    max_new_tokens=24,
    slim={"slim": lambda items: items[:200]},
    table5=(Table5Column("DocVQA"),),
)
