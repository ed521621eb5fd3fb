"""Each metric against numbers worked out by hand from the published rules, tricky cases
first. Where a rule comes from lmms-eval or VLMEvalKit, the test says which and how."""

from __future__ import annotations

import pytest

from harness.eval import chartqa, docvqa, mmbench, mme, mmvp, ocrbench, vqa
from harness.eval.answers import grade_mixed
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.realworldqa import grade as rwqa_grade
from harness.eval.scoring import Judged
from harness.eval.spec import Item, grade_letter, judged


def by_subset(metrics, name=None):
    return {m.subset: m for m in metrics if name is None or m.name == name}


# -- CV-Bench ----------------------------------------------------------------------------

def test_cvbench_matches_lmms_eval_formula_on_unequal_sources() -> None:
    # lmms-eval cv_bench: 1/2 * ((acc ADE20K + acc COCO) / 2 + acc Omni3D), accuracies per
    # source. 7 ADE20K items (5 right), 3 COCO (1 right), 6 Omni3D (3 right).
    items = ([Judged(True, "Count", "2D", "ADE20K", 4)] * 5
             + [Judged(False, "Count", "2D", "ADE20K", 4)] * 2
             + [Judged(True, "Relation", "2D", "COCO", 2)]
             + [Judged(False, "Relation", "2D", "COCO", 2)] * 2
             + [Judged(True, "Depth", "3D", "Omni3D", 2)] * 3
             + [Judged(False, "Distance", "3D", "Omni3D", 2)] * 3)
    scores = by_subset(BENCHMARKS.get("cv-bench").score(items))
    lmms = 0.5 * ((5 / 7 + 1 / 3) / 2 + 3 / 6) * 100
    assert scores["overall"].value == pytest.approx(lmms)
    assert scores["cvbench:2D"].value == pytest.approx((5 / 7 + 1 / 3) / 2 * 100)
    assert scores["cvbench:3D"].value == pytest.approx(50.0)
    # A pooled 2D accuracy (6 / 10) would differ: the mean is over sources, not items.
    assert scores["cvbench:2D"].value != pytest.approx(60.0)
    assert scores["source:COCO"].value == pytest.approx(100 / 3)
    assert scores["task:Depth"].value == 100.0 and scores["task:Distance"].value == 0.0


# -- MMVP ----------------------------------------------------------------------------------

def mmvp_judged(rights: list[bool]) -> list[Judged]:
    return [Judged(r, n_choices=2, idx=str(i + 1), group=str(i // 2))
            for i, r in enumerate(rights)]


def test_mmvp_pair_with_one_wrong_answer_counts_as_wrong() -> None:
    # Pairs: (right, right), (right, wrong), (wrong, right), (wrong, wrong).
    metrics = mmvp.score(mmvp_judged([True, True, True, False, False, True, False, False]))
    assert by_subset(metrics, "pair_accuracy")["overall"].value == 25.0  # 1 of 4 pairs
    assert by_subset(metrics, "pair_accuracy")["overall"].n == 4
    assert by_subset(metrics, "accuracy")["overall"].value == 50.0  # 4 of 8 questions
    assert by_subset(metrics, "pair_accuracy")["overall"].chance == 25.0


def test_mmvp_pair_accuracy_equals_cambrian_running_count() -> None:
    # Cambrian's mmvp_test.py counts +1 for a right even item, +1 for a right odd item only if
    # its partner was right, -1 for a wrong odd item after a right partner; over 300 items
    # that is 2 x (pairs right) / 300 = pair accuracy.
    import random

    rng = random.Random(0)
    rights = [rng.random() < 0.6 for _ in range(300)]
    correct = 0
    for ind, right in enumerate(rights):
        if right:
            if ind % 2 == 0 or correct % 2 == 1:
                correct += 1
        elif ind % 2 == 1 and correct % 2 == 1:
            correct -= 1
    ours = by_subset(mmvp.score(mmvp_judged(rights)), "pair_accuracy")["overall"].value
    assert ours == pytest.approx(100.0 * correct / 300)


def test_mmvp_half_pair_from_a_limit_is_left_out_of_pairs() -> None:
    metrics = mmvp.score(mmvp_judged([True, True, True]))
    assert by_subset(metrics, "pair_accuracy")["overall"].n == 1
    assert by_subset(metrics, "accuracy")["overall"].n == 3


def test_mmvp_answer_by_option_text() -> None:
    item = Item("1", "Open or closed?", None, ("Open", "Closed"), "B")
    assert grade_letter(item, "Closed").credit == 1.0
    # A bracketed letter is an option in either case (shared/reference/answer-styles.tsv).
    assert grade_letter(item, "(b)").credit == 1.0
    assert grade_letter(item, "B. Closed").credit == 1.0


# -- ANLS ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("prediction", "answers", "expected"), [
    ("J. Smith", ["J. Smith"], 1.0),
    ("  j.   SMITH ", ["J. Smith"], 1.0),          # case and whitespace do not count
    ("J. Smyth", ["J. Smith"], 1 - 1 / 8),         # one edit in eight characters
    ("abcd", ["abXY"], 0.5),                        # exactly the threshold: kept
    ("abcde", ["abXYZ"], 0.0),                      # 1 - 3/5 = 0.4 < 0.5: zero
    ("3/3/1999", ["March 3, 1999", "3/3/1999"], 1.0),  # best over the answers
    ("", ["x"], 0.0),
    ("", [""], 1.0),
])
def test_anls(prediction: str, answers: list[str], expected: float) -> None:
    assert docvqa.anls(prediction, answers) == pytest.approx(expected)


def test_anls_divides_by_the_raw_upper_cased_lengths() -> None:
    # The official RRC script (and lmms-eval 0.7.3's anls): the distance of the normalised
    # texts over max(len(gt.upper()), len(pred.upper())) of the raw ones. Padding and repeated
    # inner spaces lengthen the denominator though they do not count as edits.
    assert docvqa.anls("J. Smyth  ", ["J. Smith"]) == pytest.approx(1 - 1 / 10)
    assert docvqa.anls("J.  Smyth", ["J. Smith"]) == pytest.approx(1 - 1 / 9)
    assert docvqa.anls("J. Smyth", ["J.   Smith"]) == pytest.approx(1 - 1 / 10)


def test_docvqa_mean_over_questions() -> None:
    items = [Item("1", "q", None, answer="ab", answers=("ab",)),
             Item("2", "q", None, answer="abcd", answers=("abcd",))]
    graded = [judged(items[0], docvqa.grade(items[0], "ab")),
              judged(items[1], docvqa.grade(items[1], "abXY"))]
    assert by_subset(docvqa.score(graded))["overall"].value == pytest.approx(75.0)


# -- ChartQA -------------------------------------------------------------------------------

@pytest.mark.parametrize(("prediction", "target", "right"), [
    ("105", "100", True),     # 5% off: inside the tolerance
    ("95", "100", True),
    ("105.1", "100", False),  # just outside
    ("12%", "0.12", True),    # a percentage reads as a fraction
    ("0.12", "12%", True),
    ("12", "12%", False),     # 12 vs 0.12
    ("0", "0", True),         # zero target: the string rule
    ("0.0", "0", False),      # ... so 0.0 is not 0 (as in pix2struct, lmms-eval, VLMEvalKit)
    ("blue", "Blue", True),
    ("light blue", "Blue", False),
    ("1,000", "1000", False),  # no thousands separators: float("1,000") fails
])
def test_chartqa_relaxed_accuracy(prediction: str, target: str, right: bool) -> None:
    assert chartqa.relaxed_correct(prediction, target) is right


def test_chartqa_overall_is_the_mean_over_both_splits() -> None:
    items = [Item("h/0", "q", None, answer="100", source="human"),
             Item("h/1", "q", None, answer="Blue", source="human"),
             Item("a/0", "q", None, answer="12%", source="augmented")]
    outputs = [" 104 ", "red", "0.12"]
    graded = [judged(i, chartqa.grade(i, o)) for i, o in zip(items, outputs, strict=True)]
    metrics = by_subset(chartqa.score(graded))
    assert metrics["overall"].value == pytest.approx(200 / 3)
    assert metrics["source:human"].value == 50.0 and metrics["source:augmented"].value == 100.0
    assert metrics["overall"].name == "relaxed_accuracy"


# -- TextVQA -------------------------------------------------------------------------------

TEN = ["nikon"] * 3 + ["canon"] * 7


@pytest.mark.parametrize(("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9),
                                                   (4, 1.0), (10, 1.0)])
def test_vqa_accuracy_over_ten_answers(matches: int, expected: float) -> None:
    # By hand: with m matching answers, each of the m leaves m - 1 matches among the other
    # nine, each of the 10 - m leaves m; score min(1, k / 3), mean over the ten.
    answers = ["nikon"] * matches + ["other"] * (10 - matches)
    assert vqa.vqa_accuracy("nikon", answers) == pytest.approx(expected)


@pytest.mark.parametrize(("raw", "normal"), [
    ("Two", "2"), ("the Nikon", "nikon"), ("A dog.", "dog"), ("isnt", "isn't"),
    ("3.5", "3.5"), ("dont know", "don't know"), ("nikon d90?", "nikon d90"),
    ("hello,world", "helloworld"), ("left-hand", "left hand"), ("left - hand", "left hand"),
    ("coca-cola's", "coca cola 's"), ("an apple\n", "apple"), ("Yes!", "yes"),
])
def test_vqa_answer_normalisation(raw: str, normal: str) -> None:
    assert vqa.normalize_answer(raw) == normal


def test_vqa_accuracy_normalises_both_sides() -> None:
    answers = ["two"] * 2 + ["2"] + ["3"] * 7
    assert vqa.vqa_accuracy("2", answers) == pytest.approx(0.9)
    assert vqa.vqa_accuracy("Two.", answers) == pytest.approx(0.9)


# -- GQA, RealWorldQA, MMMU/MathVista short answers ----------------------------------------

@pytest.mark.parametrize(("output", "answer", "right"), [
    ("Yes", "yes", True), ("yes.", "yes", True), ("t-shirt", "tshirt", True),
    (" cup ", "cup", True), ("the cup", "cup", False), ("cups", "cup", False),
])
def test_gqa_exact_match_ignores_case_and_punctuation(output: str, answer: str,
                                                      right: bool) -> None:
    # lmms-eval gqa: exact_match with ignore_case and ignore_punctuation.
    assert vqa.grade_exact(Item("1", "q", None, answer=answer), output).credit == float(right)


def test_realworldqa_open_answer_reads_number_words() -> None:
    item = Item("2", "How many lanes?", None, answer="3")
    assert rwqa_grade(item, "three").credit == 1.0 and rwqa_grade(item, "3.").credit == 1.0
    assert rwqa_grade(item, "4").credit == 0.0


@pytest.mark.parametrize(("output", "answer", "right"), [
    ("The answer is 2.5.", "2.5", True), ("2.6", "2.5", True), ("2.7", "2.5", False),
    ("Answer: paris", "Paris", True), ("4", "4", True),
])
def test_short_answer_rule(output: str, answer: str, right: bool) -> None:
    assert grade_mixed(Item("1", "q", None, answer=answer), output).credit == float(right)


# -- OCRBench ------------------------------------------------------------------------------

def test_ocrbench_contains_and_hme_spaces() -> None:
    word = Item("0", "q", None, answer="HOUSE", answers=("HOUSE",), source="IIIT5K")
    assert ocrbench.grade(word, "The word is house.").credit == 1.0
    assert ocrbench.grade(word, "hose").credit == 0.0
    maths = Item("1", "q", None, answer="x ^ { 2 }", answers=("x ^ { 2 }",), source="HME100k")
    assert ocrbench.grade(maths, "x^{2}").credit == 1.0
    graded = [judged(word, ocrbench.grade(word, "house")),
              judged(maths, ocrbench.grade(maths, "y"))]
    assert by_subset(ocrbench.score(graded))["overall"].value == 50.0  # 1 of 2: 500/1000 / 10


# -- MME -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("output", "said"), [("Yes", "yes"), ("no.", "no"), ("Y", "yes"),
                                              ("Yes, there is", "yes"), ("maybe", "other"),
                                              ("Not really", "no")])
def test_mme_reads_yes_no(output: str, said: str) -> None:
    assert mme.parse_yes_no(output) == said


def test_mme_score_is_acc_plus_acc_plus_summed_over_perception() -> None:
    def pair(task: str, image: str, a: bool, b: bool) -> list[Judged]:
        return [Judged(a, n_choices=2, group=f"{task}/{image}", category=task),
                Judged(b, n_choices=2, group=f"{task}/{image}", category=task)]

    # existence: images (R, R), (R, W): acc 75, acc+ 50 -> 125.
    # OCR: (W, W), (R, R): acc 50, acc+ 50 -> 100. Perception = 225 (of 2 x 200).
    # code_reasoning (cognition): (R, W): acc 50, acc+ 0 -> 50.
    judged_ = (pair("existence", "1", True, True) + pair("existence", "2", True, False)
               + pair("OCR", "1", False, False) + pair("OCR", "2", True, True)
               + pair("code_reasoning", "1", True, False))
    metrics = mme.score(judged_)
    score = by_subset(metrics, "score")
    assert score["subtask:existence"].value == pytest.approx(125.0)
    assert score["subtask:OCR"].value == pytest.approx(100.0)
    assert by_subset(metrics, "perception")["overall"].value == pytest.approx(225.0)
    assert by_subset(metrics, "perception")["overall"].chance == pytest.approx(150.0)
    assert by_subset(metrics, "cognition")["overall"].value == pytest.approx(50.0)
    assert by_subset(metrics, "accuracy_plus")["subtask:existence"].value == 50.0


# -- MMBench -------------------------------------------------------------------------------

def test_mmbench_circular_needs_every_rotation_right() -> None:
    base = Item("5", "Which?", None, ("w", "x", "y", "z"), "C", category="attr", group="5")
    rotations = mmbench.rotations(base)
    assert [r.choices for r in rotations] == [("w", "x", "y", "z"), ("x", "y", "z", "w"),
                                              ("y", "z", "w", "x"), ("z", "w", "x", "y")]
    assert [r.answer for r in rotations] == ["C", "B", "A", "D"]
    always_y = [judged(r, grade_letter(r, "y")) for r in rotations]  # by text: always right
    always_c = [judged(r, grade_letter(r, "C")) for r in rotations]  # a letter habit
    other = Item("6", "Two?", None, ("p", "q"), "A", category="attr", group="6")
    two = [judged(r, grade_letter(r, "p")) for r in mmbench.rotations(other)]
    metrics = mmbench.score(always_y + always_c + two)
    circular = by_subset(metrics, "circular_accuracy")
    # Groups: "5" has 8 answers (4 right by text, 1 of 4 right by letter) -> wrong;
    # "6" has both rotations right -> right. 1 of 2 groups.
    assert circular["overall"].value == 50.0 and circular["overall"].n == 2
    assert by_subset(metrics, "accuracy")["overall"].value == pytest.approx(100 * 7 / 10)
    assert circular["category:attr"].value == 50.0


def test_mmbench_single_rotation_habit_fails_circular() -> None:
    base = Item("1", "Which?", None, ("w", "x", "y", "z"), "A", group="1")
    graded = [judged(r, grade_letter(r, "A")) for r in mmbench.rotations(base)]
    metrics = mmbench.score(graded)
    assert by_subset(metrics, "accuracy")["overall"].value == 25.0
    assert by_subset(metrics, "circular_accuracy")["overall"].value == 0.0
