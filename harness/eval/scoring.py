"""Answer extraction and metrics: letters out of free text, accuracy per slice, CV-Bench's
aggregation (2D = mean over its sources, 3D likewise, overall = (2D + 3D) / 2), and accuracy
over groups that count only when every member is right (MMVP pairs, MMBench circular)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

LETTERS = "ABCDEFGH"
SCORING_VERSION = 2
"""Raised whenever a rule that turns a model's output into credit changes (2: answers read
as shared/reference/answer-styles.tsv says, DocVQA's official ANLS denominator). Every
score records it, so numbers scored under different rules are told apart."""
SCORER = f"harness scoring-v{SCORING_VERSION}"

# How models write a choice, each as a pattern over the answer (shared/reference/
# answer-styles.tsv is the test): a letter after "answer is", "answer:" or "option"; a letter
# that opens the answer, alone or before punctuation, a comma or an explanation; a bracketed
# letter anywhere. Letters are read in either case, except a lowercase "a" that opens a phrase
# ("a sofa"): that is an article.
_AFTER_KEYWORD = re.compile(
    r"(?:answer\s*(?:is\s*:?|:)|option)\s*[(\[]?([a-h])[)\]]?(?![a-z])", re.IGNORECASE)
_OPENING = re.compile(r"^\s*([(\[])?([A-Ha-h])[)\]]?(?=$|[\s.,:;!?)\]])")
_BRACKETED = re.compile(r"[(\[]([A-Ha-h])[)\]]")
_STANDALONE = re.compile(r"(?<![A-Za-z])([A-H])(?![A-Za-z'])")
_ARTICLES = ("a ", "an ", "the ")


def _normal(text: str) -> str:
    return " ".join(text.strip().strip(".!").lower().split())


def extract_letter(text: str, choices: Sequence[str] = ()) -> str | None:
    """The option letter an answer names, or None when it names none or more than one.

    An answer that is one option's text (an article before it allowed) is that option; a
    letter is read as the patterns above say; two different letters named ("A or B") are no
    answer."""
    valid = LETTERS[: len(choices)] if choices else LETTERS
    said = _normal(text)
    if choices:
        bare = next((said[len(a):] for a in _ARTICLES if said.startswith(a)), said)
        hits = {i for i, c in enumerate(choices) if _normal(c) in (said, bare)}
        if len(hits) == 1:
            return valid[hits.pop()]
    named = {m.group(1).upper() for pattern in (_BRACKETED, _STANDALONE)
             for m in pattern.finditer(text)} & set(valid)
    if len(named) > 1:
        return None
    keyword = _AFTER_KEYWORD.search(text)
    opening = _OPENING.match(text)
    if keyword:
        letter = keyword.group(1).upper()
    elif opening and not (opening.group(2) == "a" and opening.group(1) is None
                          and text.lstrip()[1:2].isspace()):
        letter = opening.group(2).upper()
    elif named:
        letter = next(iter(named))
    else:
        return None
    return letter if letter in valid else None


@dataclass(frozen=True)
class Judged:
    """One graded prediction with the fields metrics slice on."""

    correct: bool
    task: str = ""
    type: str = ""
    source: str = ""
    n_choices: int = 0
    """0 for an open question (no chance level)."""
    credit: float | None = None
    """Partial credit in [0, 1] (VQA accuracy, ANLS); None means ``correct`` says it all."""
    idx: str = ""
    group: str = ""
    category: str = ""

    @property
    def value(self) -> float:
        return float(self.correct) if self.credit is None else self.credit


@dataclass(frozen=True)
class Metric:
    subset: str
    value: float
    n: int
    chance: float | None = None
    name: str = "accuracy"
    high: float = 100.0
    """The most ``value`` can be (its range starts at 0): 100, or MME's points."""


def accuracy_slices(judged: Iterable[Judged], name: str = "accuracy") -> list[Metric]:
    """Accuracy per task, type, source and category (where items carry them), each with its
    chance level."""
    judged = list(judged)
    groups: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        for field, value in (("task", j.task), ("type", j.type), ("source", j.source),
                             ("category", j.category)):
            if value:
                groups[f"{field}:{value}"].append(j)
    return [_accuracy(subset, items, name) for subset, items in sorted(groups.items())]


def mean_accuracy(judged: Iterable[Judged], name: str = "accuracy",
                  subset: str = "overall") -> Metric:
    """Mean credit over items (micro average), on 0-100."""
    return _accuracy(subset, list(judged), name)


def group_accuracy(judged: Iterable[Judged], name: str, subset: str = "overall",
                   size: int | None = None) -> Metric:
    """Share of groups whose every member is right. With ``size``, groups with another
    number of members (a pair cut in half by ``--limit``) are left out and not counted."""
    groups: dict[str, list[Judged]] = defaultdict(list)
    for j in judged:
        groups[j.group].append(j)
    whole = [g for g in groups.values() if size is None or len(g) == size]
    if not whole:
        return Metric(subset, 0.0, 0, None, name)
    right = sum(all(j.correct for j in g) for g in whole)
    chance = None
    if all(j.n_choices for g in whole for j in g):
        p = [_prod(1 / j.n_choices for j in g) for g in whole]
        chance = 100.0 * sum(p) / len(p)
    return Metric(subset, 100.0 * right / len(whole), len(whole), chance, name)


def _prod(values: Iterable[float]) -> float:
    out = 1.0
    for v in values:
        out *= v
    return out


def cvbench_scores(judged: Iterable[Judged]) -> list[Metric]:
    """CV-Bench's official numbers: 2D is the mean of per-source accuracy over the 2D sources
    (ADE20K, COCO), 3D that over the 3D sources (Omni3D), overall the mean of 2D and 3D."""
    judged = list(judged)
    by_type: dict[str, dict[str, list[Judged]]] = defaultdict(lambda: defaultdict(list))
    for j in judged:
        by_type[j.type][j.source].append(j)
    out = []
    type_means = []
    for kind in sorted(by_type):
        sources = by_type[kind]
        accs = [_accuracy("", items) for items in sources.values()]
        n = sum(m.n for m in accs)
        value = sum(m.value for m in accs) / len(accs)
        chance = sum(m.chance or 0 for m in accs) / len(accs)
        out.append(Metric(f"cvbench:{kind}", value, n, chance))
        type_means.append(out[-1])
    if type_means:
        out.append(Metric(
            "overall",
            sum(m.value for m in type_means) / len(type_means),
            sum(m.n for m in type_means),
            sum(m.chance or 0 for m in type_means) / len(type_means),
        ))
    return out


def _accuracy(subset: str, items: list[Judged], name: str = "accuracy") -> Metric:
    n = len(items)
    if n == 0:
        return Metric(subset, 0.0, 0, None, name)
    # One pass over the items: the bootstrap calls this thousands of times per benchmark.
    credit = guess = 0.0
    closed = True
    for j in items:
        credit += j.value
        if j.n_choices:
            guess += 1 / j.n_choices
        else:
            closed = False
    # Open questions have no chance level; a slice mixing both reports none.
    return Metric(subset, 100.0 * credit / n, n, 100.0 * guess / n if closed else None, name)
