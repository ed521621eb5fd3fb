"""Protocol sensitivity: a run's stored predictions scored again with strict letters only, with
the project's reading rule, and by option log-likelihood where that was run. The spread is how
far the choice of protocol alone moves a benchmark's headline number."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.errors import HarnessError
from harness.eval.scoring import LETTERS, Judged
from harness.eval.spec import Benchmark

Protocol = Literal["strict", "rule", "loglik"]
PROTOCOLS: tuple[Protocol, ...] = ("strict", "rule", "loglik")
"""In the order tables show them: strictest reading first."""
LOGLIK, BLIND = "_loglik", "_blind"
VARIANTS = ("", BLIND, LOGLIK, LOGLIK + BLIND)
"""What follows the benchmark's name in a predictions file's name: ``EvalOptions.variant`` of
``harness.eval.runner`` (held to it by the tests; importing it here would load torch into the
API)."""

Row = Mapping[str, Any]
"""One stored prediction as its JSON line reads (the fields of ``runner.Prediction``)."""

# What strict parsers accept: the whole answer is one capital option letter, bracketed or
# not, with at most a closing period. "b", "(b)" and "The answer is B" all fail.
_STRICT = re.compile(rf"(?:\(([{LETTERS}])\)|\[([{LETTERS}])\]|([{LETTERS}]))\.?")


@dataclass(frozen=True)
class Reading:
    """One protocol's headline value, or why it has none."""

    value: float | None
    """The benchmark's headline metric (subset ``overall``); None when not applicable."""
    n: int = 0
    """Units the metric counted (items, pairs, groups)."""
    note: str = ""
    """Why there is no value, or what the value covers when it is partial."""


@dataclass(frozen=True)
class Sensitivity:
    """One benchmark's headline under each protocol, with or without the image."""

    benchmark: str
    blind: bool
    metric: str
    readings: dict[Protocol, Reading]
    spread: float | None
    """Largest minus smallest applicable value; None with fewer than two."""


def strict_letter(output: str, n_choices: int) -> str | None:
    """The option letter an answer is, read strictly; None for anything else."""
    match = _STRICT.fullmatch(output.strip())
    if match is None:
        return None
    letter = next(g for g in match.groups() if g)
    return letter if letter in LETTERS[:n_choices] else None


def judged(row: Row) -> Judged:
    """A stored prediction as its benchmark's ``score`` takes it (``Prediction.judged``)."""
    if "correct" not in row:
        raise HarnessError(f"prediction {row.get('idx', '?')!r} has no field 'correct'")
    return Judged(**{f.name: row[f.name] for f in dataclasses.fields(Judged) if f.name in row})


def split_stem(stem: str, names: Collection[str]) -> tuple[str, str] | None:
    """(benchmark, variant) a predictions file's stem names, or None when no registered
    benchmark's name and a known variant make it up."""
    # Longest variant first: "x_loglik_blind" is x's loglik-blind file, not "x_loglik"'s blind.
    for variant in sorted(VARIANTS, key=len, reverse=True):
        name = stem[: len(stem) - len(variant)]
        if stem.endswith(variant) and name in names:
            return name, variant
    return None


def sensitivity(benchmark: Benchmark, files: Mapping[str, Sequence[Row]]) -> list[Sensitivity]:
    """Per condition (with the image, then blind) that has predictions in ``files`` (variant ->
    the rows of that file), the headline under each protocol and the spread."""
    unknown = set(files) - set(VARIANTS)
    if unknown:
        raise HarnessError(f"unknown predictions variant {sorted(unknown)[0]!r} of "
                           f"{benchmark.name}; valid: {', '.join(map(repr, VARIANTS))}")
    out = []
    for blind in (False, True):
        suffix = BLIND if blind else ""
        generated, loglik = files.get(suffix), files.get(LOGLIK + suffix)
        if generated is None and loglik is None:
            continue
        readings = {"strict": _strict(benchmark, generated), "rule": _rule(benchmark, generated),
                    "loglik": _loglik(benchmark, loglik)}
        values = [r.value for r in readings.values() if r.value is not None]
        out.append(Sensitivity(benchmark.name, blind, benchmark.metric, readings,
                               max(values) - min(values) if len(values) > 1 else None))
    return out


def _multiple_choice(benchmark: Benchmark, row: Row) -> bool:
    # Items with options are the ones every multiple-choice grader reads by letter; a
    # benchmark of open answers has no letters to be strict about.
    return benchmark.kind == "multiple_choice" and row.get("n_choices", 0) > 0


def _strict(benchmark: Benchmark, rows: Sequence[Row] | None) -> Reading:
    if rows is None:
        return Reading(None, note="no generated predictions")
    letters = sum(_multiple_choice(benchmark, r) for r in rows)
    if not letters:
        return Reading(None, note="not applicable: no multiple-choice items")
    graded = []
    for row in rows:
        j = judged(row)
        if _multiple_choice(benchmark, row):
            right = strict_letter(str(row.get("output") or ""), j.n_choices) == row.get("answer")
            j = dataclasses.replace(j, correct=right, credit=float(right))
        graded.append(j)
    note = "" if letters == len(rows) else \
        f"strict on the {letters} multiple-choice items; open answers read by the rule"
    return _headline(benchmark, graded, note)


def _rule(benchmark: Benchmark, rows: Sequence[Row] | None) -> Reading:
    if rows is None:
        return Reading(None, note="no generated predictions")
    # The grades stored with the predictions: written by the evaluation, or by
    # `harness rescore` under the current scorer.
    return _headline(benchmark, [judged(r) for r in rows])


def _loglik(benchmark: Benchmark, rows: Sequence[Row] | None) -> Reading:
    if rows is None:
        return Reading(None, note="not run (harness eval --mode loglik)")
    if not any(r.get("scoring") == "loglik" for r in rows):
        return Reading(None, note="not applicable: no item was scored by log-likelihood")
    return _headline(benchmark, [judged(r) for r in rows])


def _headline(benchmark: Benchmark, graded: list[Judged], note: str = "") -> Reading:
    if not graded:
        return Reading(None, note="no predictions in the file")
    metric = next((m for m in benchmark.score(graded)
                   if m.name == benchmark.metric and m.subset == "overall"), None)
    if metric is None:
        return Reading(None, note=f"{benchmark.metric} not computable from these predictions")
    return Reading(metric.value, metric.n, note)
