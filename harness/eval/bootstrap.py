"""95% intervals for every score of a run, by the bootstrap over each benchmark's natural
unit: the question, or the group its metric scores together (an MMVP pair, an MMBench
circular group, an MME image's question pair). A benchmark whose formula weighs its sources
(CV-Bench) is resampled within each source. Each replicate re-applies the benchmark's own
scoring, so every metric and slice gets its interval from the same draws.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.eval.scoring import Judged, Metric

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Bootstrap:
    """What the intervals were drawn with (stored with every score that has one)."""

    resamples: int = RESAMPLES
    seed: int = SEED


def intervals(score: Callable[[list[Judged]], list[Metric]], judged: list[Judged],
              settings: Bootstrap = Bootstrap(), within: str = ""
              ) -> dict[tuple[str, str], Interval]:
    """(metric, subset) -> its 95% percentile interval; empty with fewer than two units
    (no interval can be said, and none is made up). ``within`` names a field of ``Judged``
    (``source``) to resample inside."""
    strata: dict[str, dict[str, list[Judged]]] = defaultdict(lambda: defaultdict(list))
    for j in judged:
        strata[getattr(j, within) if within else ""][j.group or j.idx].append(j)
    if sum(len(units) for units in strata.values()) < 2:
        return {}
    rng = random.Random(settings.seed)
    copies: dict[tuple[str, int], list[Judged]] = {}

    def copy(unit: str, members: list[Judged], k: int) -> list[Judged]:
        # A unit drawn twice must count as two groups, not one group of twice the members.
        if k == 0:
            return members
        key = (unit, k)
        if key not in copies:
            copies[key] = [dataclasses.replace(j, group=f"{unit}#{k}") for j in members]
        return copies[key]

    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(settings.resamples):
        sample: list[Judged] = []
        for units in strata.values():
            names = list(units)
            for unit, times in Counter(rng.choices(names, k=len(names))).items():
                for k in range(times):
                    sample.extend(copy(unit, units[unit], k))
        for metric in score(sample):
            values[(metric.name, metric.subset)].append(metric.value)
    tail = 100 * (1 - LEVEL) / 2
    out = {}
    for key, drawn in values.items():
        if len(drawn) == settings.resamples:  # a slice missing from some draws gets none
            low, high = np.percentile(drawn, [tail, 100 - tail])
            out[key] = Interval(float(low), float(high))
    return out
