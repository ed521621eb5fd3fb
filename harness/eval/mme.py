"""MME: yes/no questions, two per image, over 10 perception and 4 cognition subtasks.

Each subtask's score is acc + acc+ (percent of questions right, plus percent of images with
both questions right), so 200 points at most; the perception score is the sum over the ten
perception subtasks, on a 2,000-point scale. Cambrian's category average puts it on 0-100 by
dividing by 20 (see ``harness.eval.categories``). Answers are read as in lmms-eval (from Otter's
evaluation): "yes"/"no", "y"/"n", else the first four characters decide.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from harness.eval.files import LayoutError, columns, image_bytes, need, read_parquet
from harness.eval.prompts import rendered_hash, short_answer_prompt
from harness.eval.scoring import Judged, Metric, group_accuracy, mean_accuracy
from harness.eval.spec import Benchmark, Grade, Item, Table5Column, first_groups

PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene",
              "landmark", "artwork", "OCR")
COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation",
             "code_reasoning")
LAYOUT = ("MME_Benchmark_release_version layout: one folder per subtask (existence, count, "
          "..., OCR) holding <image> + <image>.txt (two lines 'question<TAB>Yes|No'), or "
          "images/ + questions_answers_YN/; or data/*.parquet (question_id, image, question, "
          "answer, category)")
IMAGE_SUFFIXES = (".jpg", ".png", ".jpeg")
# Chance per subtask: acc 50 (yes/no) + acc+ 25 (both of a pair by luck).
CHANCE_PER_SUBTASK = 75.0
SUBTASK_POINTS = 200.0
"""A subtask's score is acc + acc+, each out of 100."""


def parse_yes_no(output: str) -> str:
    text = output.lower().strip().replace(".", "")
    if text in ("yes", "no"):
        return text
    if len(text) == 1:
        return {"y": "yes", "n": "no"}.get(text, "other")
    head = text[:4]
    if "yes" in head:
        return "yes"
    if "no" in head:
        return "no"
    return "other"


def grade(item: Item, output: str) -> Grade:
    said = parse_yes_no(output)
    return Grade(said, float(said == item.answer.lower().strip().replace(".", "")))


def _folder_items(root: Path, subtask: str) -> list[Item]:
    folder = root / subtask
    qa_dir = folder / "questions_answers_YN"
    image_dir = folder / "images" if qa_dir.is_dir() else folder
    texts = sorted((qa_dir if qa_dir.is_dir() else folder).glob("*.txt"))
    items = []
    for txt in texts:
        image = next((image_dir / (txt.stem + s) for s in IMAGE_SUFFIXES
                      if (image_dir / (txt.stem + s)).is_file()), None)
        if image is None:
            raise LayoutError(f"{image_dir / (txt.stem + '.jpg')}: image not found for {txt}; "
                              f"expected {LAYOUT}")
        lines = [ln for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
        for k, line in enumerate(lines):
            question, sep, answer = line.rpartition("\t")
            if not sep or answer.strip() not in ("Yes", "No"):
                raise LayoutError(f"{txt}:{k + 1}: expected 'question<TAB>Yes|No'")
            items.append(Item(idx=f"{subtask}/{image.name}/{k}", question=question.strip(),
                              image=image.relative_to(root).as_posix(), answer=answer.strip(),
                              category=subtask, group=f"{subtask}/{image.name}"))
    return items


def load(data_dir: Path) -> list[Item]:
    root = Path(data_dir)
    parquet = sorted(root.glob("data/*.parquet")) or sorted(root.glob("*.parquet"))
    if parquet and not any((root / s).is_dir() for s in PERCEPTION):
        return _parquet_items(parquet)
    present = [s for s in (*PERCEPTION, *COGNITION) if (root / s).is_dir()]
    if not present:
        need(root / PERCEPTION[0], LAYOUT)
    items = [i for s in present for i in _folder_items(root, s)]
    return items


def _parquet_items(paths: list[Path]) -> list[Item]:
    rows = read_parquet(paths, LAYOUT)
    items = []
    seen: dict[str, int] = defaultdict(int)
    for n, row in enumerate(rows):
        where = f"{paths[0]}: row {n}"
        columns(row, ("question_id", "image", "question", "answer", "category"), where, LAYOUT)
        group = f"{row['category']}/{row['question_id']}"
        k = seen[group]
        seen[group] += 1
        items.append(Item(idx=f"{group}/{k}", question=row["question"],
                          image=image_bytes(row["image"], where), answer=row["answer"],
                          category=row["category"], group=group))
    return items


def score(judged: list[Judged]) -> list[Metric]:
    by_task: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        by_task[j.category].append(j)
    out: list[Metric] = []
    totals = {"perception": [0.0, 0, 0], "cognition": [0.0, 0, 0]}
    for task in sorted(by_task):
        items = by_task[task]
        acc = mean_accuracy(items, "accuracy", f"subtask:{task}")
        acc_plus = group_accuracy(items, "accuracy_plus", f"subtask:{task}")
        subtotal = acc.value + acc_plus.value
        out += [acc, acc_plus, Metric(f"subtask:{task}", subtotal, len(items),
                                      CHANCE_PER_SUBTASK, "score", high=SUBTASK_POINTS)]
        kind = "perception" if task in PERCEPTION else "cognition"
        totals[kind][0] += subtotal
        totals[kind][1] += len(items)
        totals[kind][2] += 1
    for kind, (total, n, tasks) in totals.items():
        if tasks:
            out.append(Metric("overall", total, n, CHANCE_PER_SUBTASK * tasks, kind,
                              high=SUBTASK_POINTS * tasks))
    out.append(mean_accuracy(judged))
    return out


def prompt(item: Item) -> str:
    return short_answer_prompt(item.question)


BENCHMARK = Benchmark(
    name="mme",
    version="1",
    category="General",
    description="MME; perception score (sum of acc + acc+ over 10 subtasks, 2,000 points) "
                "and cognition when present",
    load=load,
    score=score,
    prompt=prompt,
    prompt_hash=rendered_hash("mme/v1", prompt,
                              [Item("1", "Is there a dog? Please answer yes or no.", None)]),
    kind="open",
    grade=grade,
    metric="perception",
    scale=2000.0,
    annotations=("*/*.txt", "*/questions_answers_YN/*.txt", "data/*.parquet", "*.parquet"),
    layout=LAYOUT,
    split="test",
    max_new_tokens=8,
    slim={"slim": lambda items: [i for s in (*PERCEPTION, *COGNITION)
                                 for i in first_groups([j for j in items if j.category == s],
                                                       10)]},
    table5=(Table5Column("MME-P"),),
)
