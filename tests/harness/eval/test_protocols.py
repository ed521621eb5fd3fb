"""Protocol sensitivity: strict letters, the rule and log-likelihood over stored predictions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.eval.benchmarks import BENCHMARKS
from harness.eval.protocols import VARIANTS, sensitivity, split_stem, strict_letter
from harness.eval.runner import MODES, EvalOptions, Prediction

SEED, GQA, MMVP, MATHVISTA = (BENCHMARKS.get(n) for n in ("seed-image", "gqa", "mmvp",
                                                           "mathvista"))


def row(output: str, correct: bool, *, answer: str = "B", n_choices: int = 4, idx: str = "",
        group: str = "", scoring: str = "generate", error: str | None = None
        ) -> dict[str, Any]:
    """A prediction as its file stores it."""
    return asdict(Prediction(idx=idx or output, task="", type="", source="", answer=answer,
                             output=output, extracted=None, correct=correct,
                             n_choices=n_choices, credit=float(correct), group=group,
                             scoring=scoring, error=error))


# Styles the rule reads as B and a strict parser does not, and one both read.
STYLES = [row("b", True), row("(b)", True), row("The answer is B", True), row("(B)", True)]


@pytest.mark.parametrize(("text", "letter"), [
    ("B", "B"), ("(B)", "B"), ("[B]", "B"), ("B.", "B"), ("  D \n", "D"),
    ("b", None), ("(b)", None), ("The answer is B", None), ("B, because", None),
    ("(B", None), ("B)", None), ("BB", None), ("E", None), ("", None),
])
def test_strict_letter_takes_one_capital_letter_only(text: str, letter: str | None) -> None:
    assert strict_letter(text, 4) == letter


def test_strict_and_rule_differ_on_styles_the_rule_reads() -> None:
    [with_image] = sensitivity(SEED, {"": STYLES})
    r = with_image.readings
    assert (with_image.benchmark, with_image.blind, with_image.metric) == \
        ("seed-image", False, "accuracy")
    assert r["rule"].value == 100.0 and r["strict"].value == 25.0 and r["strict"].n == 4
    assert r["loglik"].value is None and "not run" in r["loglik"].note
    assert with_image.spread == 75.0


def test_loglik_shows_where_it_was_run_and_widens_the_spread() -> None:
    loglik = [row("B", True, idx="1", scoring="loglik"), row("C", False, idx="2",
                                                              scoring="loglik")]
    found = sensitivity(SEED, {"": STYLES, "_loglik": loglik, "_blind": [row("C", False)]})
    with_image, blind = found
    assert with_image.readings["loglik"].value == 50.0
    assert with_image.spread == 75.0  # 100 (rule) - 25 (strict); loglik lies between
    assert blind.blind and blind.readings["rule"].value == 0.0
    assert blind.readings["loglik"].value is None and blind.spread == 0.0
    # Only a log-likelihood file: one protocol, no spread to speak of.
    [only] = sensitivity(SEED, {"_loglik": loglik})
    assert only.readings["rule"].value is None and only.spread is None


def test_an_open_benchmark_has_the_rule_only() -> None:
    open_rows = [row("two", True, answer="two", n_choices=0),
                 row("cat", False, answer="dog", n_choices=0)]
    [found] = sensitivity(GQA, {"": open_rows})
    assert found.readings["rule"].value == 50.0
    assert found.readings["strict"].value is None
    assert found.readings["strict"].note.startswith("not applicable")
    assert found.readings["loglik"].value is None and found.spread is None


def test_unreadable_items_stay_in_every_denominator() -> None:
    rows = [row("B", True, idx=str(i)) for i in range(3)]
    rows.append(row("", False, idx="3", error="unreadable image"))
    [found] = sensitivity(SEED, {"": rows})
    assert found.readings["strict"].value == found.readings["rule"].value == 75.0
    assert found.readings["strict"].n == 4 and found.spread == 0.0


def test_strict_reading_breaks_pairs_under_the_pair_metric() -> None:
    pairs = [row("A", True, answer="A", n_choices=2, idx="1", group="p1"),
             row("b", True, n_choices=2, idx="2", group="p1"),
             row("A", True, answer="A", n_choices=2, idx="3", group="p2"),
             row("B.", True, n_choices=2, idx="4", group="p2")]
    [found] = sensitivity(MMVP, {"": pairs})
    assert found.metric == "pair_accuracy"
    assert found.readings["rule"].value == 100.0 and found.readings["strict"].value == 50.0
    assert found.readings["strict"].n == 2 and found.spread == 50.0


def test_a_mixed_benchmark_is_strict_on_its_letters_only() -> None:
    rows = [row("b", True), row("12", True, answer="12", n_choices=0)]
    [found] = sensitivity(MATHVISTA, {"": rows})
    assert found.readings["strict"].value == 50.0  # the open answer keeps its rule grade
    assert "1 multiple-choice items" in found.readings["strict"].note


def test_variants_are_the_runners_file_names() -> None:
    assert set(VARIANTS) == {EvalOptions(mode=m, blind=b).variant  # type: ignore[arg-type]
                             for m in MODES for b in (False, True)}


@pytest.mark.parametrize(("stem", "split"), [
    ("mmvp", ("mmvp", "")), ("mmvp_blind", ("mmvp", "_blind")),
    ("mmvp-original_loglik_blind", ("mmvp-original", "_loglik_blind")),
    ("textvqa-ocr_loglik", ("textvqa-ocr", "_loglik")), ("nope", None), ("mmvp_x", None),
])
def test_file_stems_split_into_benchmark_and_variant(stem: str,
                                                     split: tuple[str, str] | None) -> None:
    assert split_stem(stem, BENCHMARKS.names()) == split


def test_bad_variants_and_rows_are_named() -> None:
    with pytest.raises(HarnessError, match="unknown predictions variant '_x'.*valid"):
        sensitivity(SEED, {"_x": STYLES})
    with pytest.raises(HarnessError, match="'7' has no field 'correct'"):
        sensitivity(SEED, {"": [{"idx": "7", "output": "B"}]})
