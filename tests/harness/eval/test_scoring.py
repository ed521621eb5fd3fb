"""Letter extraction and CV-Bench's aggregation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from harness.eval.scoring import Judged, accuracy_slices, cvbench_scores, extract_letter

CHOICES = ("left", "right", "above", "below")


def answer_styles() -> list[tuple[str, tuple[str, ...], str | None]]:
    """shared/reference/answer-styles.tsv and this project's own rows after it."""
    path = Path(__file__).parent / "data" / "answer-styles.tsv"
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(r["answer"], tuple(r["options"].split("|")),
             None if r["reads"] == "-" else r["reads"]) for r in rows]


@pytest.mark.parametrize(("text", "options", "letter"), answer_styles())
def test_answers_are_read_as_the_reference_table_says(text: str, options: tuple[str, ...],
                                                      letter: str | None) -> None:
    assert extract_letter(text, options) == letter


@pytest.mark.parametrize(("text", "letter"), [
    ("B", "B"), ("(B)", "B"), ("B.", "B"), ("B) right", "B"), (" c", "C"), ("C", "C"),
    ("The answer is D.", "D"), ("Answer: (A)", "A"), ("I think (C) is right", "C"),
    ("right", "B"), ("Right.", "B"), ("", None), ("E", None), ("Because", None),
    ("A dog", "A"),
])
def test_extract_letter(text: str, letter: str | None) -> None:
    assert extract_letter(text, CHOICES) == letter


def test_letter_beyond_the_choices_is_not_an_answer() -> None:
    assert extract_letter("C", ("yes", "no")) is None


def judged(task: str, kind: str, source: str, right: int, wrong: int, n_choices: int = 2):
    return ([Judged(True, task, kind, source, n_choices)] * right
            + [Judged(False, task, kind, source, n_choices)] * wrong)


def test_cvbench_overall_is_the_mean_of_2d_and_3d() -> None:
    items = (judged("Count", "2D", "ADE20K", 3, 1, 4)      # 75 %
             + judged("Relation", "2D", "COCO", 1, 1)      # 50 %: 2D = mean(75, 50) = 62.5
             + judged("Depth", "3D", "Omni3D", 9, 1))      # 90 %
    scores = {m.subset: m for m in cvbench_scores(items)}
    assert scores["cvbench:2D"].value == pytest.approx(62.5)
    assert scores["cvbench:3D"].value == pytest.approx(90.0)
    assert scores["overall"].value == pytest.approx(76.25)
    assert scores["overall"].n == 16
    # 2D is a mean over sources, not over items: 4 ADE20K items weigh as much as 2 COCO ones.
    assert scores["cvbench:2D"].chance == pytest.approx((25 + 50) / 2)


def test_accuracy_slices_carry_chance() -> None:
    items = judged("Count", "2D", "probe", 1, 3, 4) + judged("Depth", "3D", "probe", 2, 0)
    slices = {m.subset: m for m in accuracy_slices(items)}
    assert slices["task:Count"].value == 25.0 and slices["task:Count"].chance == 25.0
    assert slices["task:Depth"].value == 100.0 and slices["task:Depth"].chance == 50.0
    assert slices["source:probe"].n == 6
