"""Noise across training seeds and questions, from the bootstrap draws every run keeps
(``harness.eval.bootstrap``; the store's ``score_replicates``).

- A setting's interval pools its seeds by a two-stage bootstrap: replicate r draws the seeds
  with replacement (once for all its scores), then averages those seeds' r-th draws, which
  resampled the same unit indices for every seed (the draws depend only on the seed and the
  unit names).
- Category averages are made inside each replicate from their columns' replicates, by the
  rule the point values follow (``summary.Setting``).
- Two settings (or runs) scored on the same units are compared pairwise: replicate r of A
  minus replicate r of B, so questions both found hard cancel out.
- ``vision_reliance`` draws a setting's with-image and blind scores with the same seed picks
  and question resamples, so their difference (the benchmark's vision reliance) is paired.
- ``seeds_needed`` plans how many seeds resolve a gap of D points from the measured spreads:
  Var(mean A - mean B) = unit variance of the difference + (seed variance A + B) / seeds.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.eval.bootstrap import LEVEL, Draws, percentile_interval
from harness.eval.categories import columns as table5_columns
from harness.store.summary import OVERALL, headline_metric

ScoreKey = tuple[str, str, str]
"""(benchmark, metric, subset)."""
MIXED = "mixed"
"""The units digest of draws pooled over runs that were scored on different units."""
ALPHA = 1 - LEVEL
POWER = 0.8


@dataclass(frozen=True)
class RunDraws:
    """One finished run: its overall and Table 5 scores, and their draws where kept."""

    run_key: str
    scores: Mapping[ScoreKey, float]
    draws: Mapping[ScoreKey, Draws]


# -- columns: what a setting is shown with ---------------------------------------------------

def column_sources(keys: Iterable[ScoreKey]) -> dict[str, tuple[tuple[ScoreKey, float], ...]]:
    """Each column a setting shows (``summary.Setting.values``), as the scores it averages
    and the factor putting each on 0-100: a benchmark is its headline metric on ``overall``;
    a category is the mean of its Table 5 columns present (each column's first source found).
    A benchmark's name wins a clash with a category's."""
    keys = set(keys)
    out: dict[str, tuple[tuple[ScoreKey, float], ...]] = {}
    by_category: dict[str, list[tuple[ScoreKey, float]]] = {}
    for column in table5_columns().values():
        for source in column.sources:
            key = (source.benchmark, source.metric, source.subset)
            if key in keys:
                by_category.setdefault(column.category, []).append((key, 100.0 / source.scale))
                break
    out.update((category, tuple(parts)) for category, parts in by_category.items())
    metrics: dict[str, list[str]] = {}
    for benchmark, metric, subset in keys:
        if subset == OVERALL:
            metrics.setdefault(benchmark, []).append(metric)
    for benchmark, names in metrics.items():
        headline = headline_metric(benchmark, names)
        if headline is not None:
            out[benchmark] = (((benchmark, headline, OVERALL), 1.0),)
    return out


def column_values(scores: Mapping[ScoreKey, float]) -> dict[str, float]:
    return {column: statistics.fmean(scores[key] * factor for key, factor in parts)
            for column, parts in column_sources(scores).items()}


def column_draws(draws: Mapping[ScoreKey, Draws]) -> dict[str, Draws]:
    out = {}
    for column, parts in column_sources(draws).items():
        values = np.mean([draws[key].values * factor for key, factor in parts], axis=0)
        units = [draws[key].units for key, _ in parts]
        out[column] = Draws(values, units[0] if len(units) == 1 else _joined(units))
    return out


# -- pooling seeds ---------------------------------------------------------------------------

def pool_seeds(per_seed: Sequence[Draws], rng: np.random.Generator,
               picks: np.ndarray | None = None) -> Draws:
    """Two-stage bootstrap: in each replicate, seeds drawn with replacement, then their
    draws of that replicate averaged (units shared across seeds within a replicate).
    ``picks`` (replicates x seeds) gives the seed draws, to share them between numbers."""
    matrix = np.stack([d.values for d in per_seed]).astype(np.float64)
    seeds, resamples = matrix.shape
    if seeds > 1:
        if picks is None:
            picks = rng.integers(0, seeds, size=(resamples, seeds))
        values = matrix[picks, np.arange(resamples)[:, None]].mean(axis=1)
    else:
        values = matrix[0]
    return Draws(values, _same_units(per_seed))


def pooled_columns(runs: Sequence[RunDraws], rng: np.random.Generator) -> dict[str, Draws]:
    """A setting's columns drawn over its seeds and units. A replicate draws its seeds once
    for every score the runs all have (a seed is one training run: all its scores move
    together, which the category averages must see); a score only some runs have draws
    among those."""
    keys = sorted({k for r in runs for k in r.draws})
    lengths = {len(r.draws[k].values) for r in runs for k in r.draws}
    shared = None
    if len(runs) > 1 and len(lengths) == 1:
        shared = rng.integers(0, len(runs), size=(lengths.pop(), len(runs)))
    pooled = {}
    for key in keys:
        per_seed = [r.draws[key] for r in runs if key in r.draws]
        if len({len(d.values) for d in per_seed}) == 1:
            picks = shared if len(per_seed) == len(runs) else None
            pooled[key] = pool_seeds(per_seed, rng, picks)
    return column_draws(pooled)


def units_only(per_seed: Sequence[Draws]) -> Draws:
    """The seeds held as they are, the units resampled: the noise more seeds cannot remove."""
    matrix = np.stack([d.values for d in per_seed]).astype(np.float64)
    return Draws(matrix.mean(axis=0), _same_units(per_seed))


def setting_rng(identity: Sequence[object]) -> np.random.Generator:
    """A generator of its own per setting: two settings' seed draws must be independent,
    and the same setting must give the same interval on every page view."""
    digest = hashlib.sha256(repr(tuple(identity)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass
class Side:
    """A setting (several runs, one per seed) or a single run, ready to compare."""

    label: str
    runs: list[str]
    values: dict[str, float]
    """Column -> mean over seeds."""
    per_seed: dict[str, list[float]]
    pooled: dict[str, Draws] = field(default_factory=dict)
    """Column -> two-stage draws (seeds and units resampled)."""
    fixed_seeds: dict[str, Draws] = field(default_factory=dict)
    """Column -> units-only draws of the mean over these seeds."""


def side(label: str, runs: Sequence[RunDraws], rng: np.random.Generator) -> Side:
    """Pool a setting's runs: score by score over the runs that have it (as the setting's
    point values are), then into columns."""
    if not runs:
        raise ValueError(f"{label}: no finished runs")
    means: dict[ScoreKey, float] = {}
    for key in sorted({k for r in runs for k in r.scores}):
        means[key] = statistics.fmean(r.scores[key] for r in runs if key in r.scores)
    fixed: dict[ScoreKey, Draws] = {}
    for key in sorted({k for r in runs for k in r.draws}):
        per_seed = [r.draws[key] for r in runs if key in r.draws]
        if len({len(d.values) for d in per_seed}) == 1:
            fixed[key] = units_only(per_seed)
    per_seed_columns: dict[str, list[float]] = {}
    for r in runs:
        for column, value in column_values(r.scores).items():
            per_seed_columns.setdefault(column, []).append(value)
    return Side(label, [r.run_key for r in runs], column_values(means), per_seed_columns,
                pooled_columns(runs, rng), column_draws(fixed))


# -- vision reliance: with the image minus without it -------------------------------------

BLIND = "_blind"


@dataclass(frozen=True)
class Reliance:
    """One benchmark of a setting: with-image and blind means over seeds, their difference,
    and each one's 95% interval over seeds and questions (None where no draws were kept)."""

    benchmark: str
    metric: str
    with_image: float
    blind: float
    with_image_interval: tuple[float, float] | None
    blind_interval: tuple[float, float] | None
    reliance_interval: tuple[float, float] | None
    seeds: int

    @property
    def reliance(self) -> float:
        return self.with_image - self.blind


def vision_reliance(runs: Sequence[RunDraws], rng: np.random.Generator) -> list[Reliance]:
    """Per benchmark scored both ways (``blind_eval``), on its headline metric's overall."""
    out = []
    keys = {k for r in runs for k in r.scores}
    benchmarks = sorted({b for b, _, subset in keys if subset == OVERALL})
    for benchmark in benchmarks:
        names = [m for b, m, sub in keys if b == benchmark and sub == OVERALL]
        metric = headline_metric(benchmark, [m for m in names if not m.endswith(BLIND)])
        seen = (benchmark, metric, OVERALL)
        blind = (benchmark, f"{metric}{BLIND}", OVERALL)
        both = [r for r in runs if seen in r.scores and blind in r.scores]
        if metric is None or not both:
            continue
        intervals: list[tuple[float, float] | None] = [None, None, None]
        if all(seen in r.draws and blind in r.draws for r in both) and len(
                {len(r.draws[k].values) for r in both for k in (seen, blind)}) == 1:
            resamples = len(both[0].draws[seen].values)
            picks = rng.integers(0, len(both), size=(resamples, len(both)))
            drawn = [pool_seeds([r.draws[k] for r in both], rng, picks).values
                     for k in (seen, blind)]
            for i, values in enumerate((drawn[0], drawn[1], drawn[0] - drawn[1])):
                interval = percentile_interval(values)
                intervals[i] = (interval.low, interval.high)
        out.append(Reliance(
            benchmark, metric, statistics.fmean(r.scores[seen] for r in both),
            statistics.fmean(r.scores[blind] for r in both), *intervals, seeds=len(both)))
    return out


# -- comparing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """A minus B on one column."""

    column: str
    a: float
    b: float
    low: float | None
    high: float | None
    paired: bool
    """Both sides were drawn over the same units (question by question)."""

    @property
    def difference(self) -> float:
        return self.a - self.b

    @property
    def within_noise(self) -> bool | None:
        """The 95% interval holds 0; None where no interval could be drawn."""
        return None if self.low is None else self.low <= 0.0 <= self.high


def compare(a: Side, b: Side) -> list[Difference]:
    """Every column both sides have, categories first (the paper's order), then benchmarks."""
    out = []
    for column in _ordered(set(a.values) & set(b.values)):
        da, db = a.pooled.get(column), b.pooled.get(column)
        if da is None or db is None or len(da.values) != len(db.values):
            out.append(Difference(column, a.values[column], b.values[column], None, None,
                                  False))
            continue
        interval = percentile_interval(da.values - db.values)
        out.append(Difference(column, a.values[column], b.values[column], interval.low,
                              interval.high, _paired(da, db)))
    return out


@dataclass(frozen=True)
class Plan:
    """Seeds per side to resolve a gap of ``gap`` points (two-sided alpha 0.05, power 0.8)."""

    column: str
    gap: float
    seeds: int | None
    """None where no number of seeds is enough, or the spread could not be measured."""
    unit_sd: float
    seed_sd_a: float | None
    seed_sd_b: float | None
    note: str = ""


def seeds_needed(a: Side, b: Side, column: str, gap: float) -> Plan:
    """From the unit variance of the difference (A and B drawn over their units, seeds held)
    and each side's seed-to-seed variance; a side with one seed borrows the other's."""
    da, db = a.fixed_seeds.get(column), b.fixed_seeds.get(column)
    if da is None or db is None or len(da.values) != len(db.values):
        return Plan(column, gap, None, float("nan"), None, None,
                    "no bootstrap draws on both sides for this column")
    unit_var = float(np.var(da.values - db.values, ddof=1))
    sd_a, sd_b = _seed_sd(a.per_seed.get(column, [])), _seed_sd(b.per_seed.get(column, []))
    note = ""
    if sd_a is None and sd_b is None:
        return Plan(column, gap, None, unit_var ** 0.5, None, None,
                    "needs two or more seeds of A or B (seed spread unmeasured)")
    if sd_a is None or sd_b is None:
        note = "one side has one seed: its spread taken as the other's"
    seed_var = (sd_a if sd_a is not None else sd_b) ** 2 + (sd_b if sd_b is not None else
                                                            sd_a) ** 2
    z = statistics.NormalDist().inv_cdf(1 - ALPHA / 2) + statistics.NormalDist().inv_cdf(POWER)
    room = (abs(gap) / z) ** 2 - unit_var
    if room <= 0:
        return Plan(column, gap, None, unit_var ** 0.5, sd_a, sd_b,
                    f"no number of seeds: the questions alone are too few for {abs(gap):g}")
    seeds = max(2, int(np.ceil(seed_var / room)))
    return Plan(column, gap, seeds, unit_var ** 0.5, sd_a, sd_b, note)


# -- helpers ---------------------------------------------------------------------------------

def _ordered(columns: set[str]) -> list[str]:
    categories = list(dict.fromkeys(c.category for c in table5_columns().values()))
    first = [c for c in categories if c in columns]
    return first + sorted(columns - set(first))


def _same_units(draws: Sequence[Draws]) -> str:
    units = {d.units for d in draws}
    return units.pop() if len(units) == 1 else MIXED


def _joined(units: Sequence[str]) -> str:
    if MIXED in units:
        return MIXED
    return hashlib.sha256("|".join(units).encode()).hexdigest()[:16]


def _paired(a: Draws, b: Draws) -> bool:
    return a.units == b.units and a.units != MIXED


def _seed_sd(values: Sequence[float]) -> float | None:
    return statistics.stdev(values) if len(values) >= 2 else None
