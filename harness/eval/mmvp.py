"""MMVP: 150 CLIP-blind image pairs (Index 1-300; pair = (Index - 1) // 2), scored per question
and per pair (a pair counts only if both answers are right), with the label patch for the
swapped answers at Index 99/100 and 279/280 (MMVP issues #14 and #30) as a named version."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.eval.files import LayoutError, check_images, read_table
from harness.eval.prompts import options_prompt, rendered_hash, template_hash
from harness.eval.scoring import Judged, Metric, group_accuracy, mean_accuracy
from harness.eval.spec import Benchmark, Item, Table5Column, first_groups

LAYOUT = ("Questions.csv (Index, Question, Options \"(a) .. (b) ..\", Correct Answer \"(a)\")"
          " and 'MMVP Images/<Index>.jpg'")
QUESTION_FIELDS = ("Question", "Options", "Correct Answer")

PATCH_NAME = "mmvp-swapped-labels-v1"
ORIGINAL = {99: "(a)", 100: "(b)", 279: "(a)", 280: "(b)"}
CORRECTED = {99: "(b)", 100: "(a)", 279: "(b)", 280: "(a)"}
PATCH_ID = f"{PATCH_NAME}@" + template_hash(json.dumps({"from": ORIGINAL, "to": CORRECTED},
                                                       sort_keys=True))
_OPTION = re.compile(r"\(([a-z])\)\s*(.*?)\s*(?=\([a-z]\)|$)", re.IGNORECASE | re.DOTALL)


def parse_options(text: str) -> tuple[str, ...]:
    """``"(a) Open (b) Closed"`` -> ``("Open", "Closed")``."""
    return tuple(m.group(2).strip() for m in _OPTION.finditer(text))


def apply_patch(index: int, answer: str, where: str) -> str:
    """The corrected answer; an error if the file holds neither the original nor the
    corrected label (a different release the patch was not written for)."""
    if index not in CORRECTED:
        return answer
    if answer not in (ORIGINAL[index], CORRECTED[index]):
        raise LayoutError(f"{where}: Index {index} answer {answer!r} is neither the original "
                          f"{ORIGINAL[index]!r} nor the corrected {CORRECTED[index]!r}; "
                          f"label patch {PATCH_NAME} does not apply")
    return CORRECTED[index]


def loader(patched: bool):
    def load(data_dir: Path) -> list[Item]:
        path = Path(data_dir) / "Questions.csv"
        rows = read_table(path, LAYOUT)
        items = []
        for n, row in enumerate(rows, 2):
            # The released CSV spells its first header "lndex" (a lower-case L).
            index_text = row.get("Index", row.get("lndex"))
            where = f"{path}:{n}"
            missing = [f for f in QUESTION_FIELDS if f not in row]
            if index_text is None or missing:
                raise LayoutError(f"{where}: missing column "
                                  f"{(missing or ['Index'])[0]!r}; expected {LAYOUT}")
            try:
                index = int(index_text)
            except ValueError:
                raise LayoutError(f"{where}: Index {index_text!r} is not a number") from None
            choices = parse_options(row["Options"])
            answer = row["Correct Answer"].strip().lower()
            if patched:
                answer = apply_patch(index, answer, where)
            letter = answer.strip("()").upper()
            if len(choices) < 2 or letter not in "AB"[: len(choices)] or not letter:
                raise LayoutError(f"{where}: options {row['Options']!r} / answer "
                                  f"{row['Correct Answer']!r} not in the form \"(a) .. (b) ..\""
                                  " / \"(a)\"")
            items.append(Item(idx=str(index), question=row["Question"].strip(),
                              image=f"MMVP Images/{index}.jpg", choices=choices, answer=letter,
                              group=str((index - 1) // 2)))
        check_images(((i.idx, i.image) for i in items), Path(data_dir), LAYOUT)
        return items
    return load


def prompt(item: Item) -> str:
    return options_prompt(item.question, item.choices)


def score(judged: list[Judged]) -> list[Metric]:
    return [group_accuracy(judged, "pair_accuracy", size=2), mean_accuracy(judged)]


_SAMPLE = [Item("1", "Is the door open or closed?", None, ("Open", "Closed"), "A")]
PROMPT_HASH = rendered_hash("mmvp/v1", prompt, _SAMPLE)


def _benchmark(name: str, patched: bool) -> Benchmark:
    return Benchmark(
        name=name,
        version="1",
        category="Vision-Centric",
        description=("MMVP, 150 CLIP-blind pairs; pair accuracy (headline) and per question; "
                     + (f"labels patched ({PATCH_NAME})" if patched
                        else "original labels, unpatched (for comparing old numbers)")),
        load=loader(patched),
        score=score,
        prompt=prompt,
        prompt_hash=PROMPT_HASH,
        label_patch=PATCH_ID if patched else "",
        metric="pair_accuracy",
        annotations=("Questions.csv",),
        layout=LAYOUT,
        split="test",
        max_new_tokens=8,
        slim={"slim": lambda items: first_groups(items, 25)},
        folder="mmvp",  # both read the one MMVP release
        table5=(Table5Column("MMVP"),) if patched else (),
    )


BENCHMARKS = [_benchmark("mmvp", True), _benchmark("mmvp-original", False)]
