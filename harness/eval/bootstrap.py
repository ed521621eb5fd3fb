"""95% intervals for every score of a run, by the bootstrap over each benchmark's natural
unit: the question, or the group its metric scores together (an MMVP pair, an MMBench
circular group, an MME image's question pair). A benchmark whose formula weighs its sources
(CV-Bench) is resampled within each source. Each replicate re-applies the benchmark's own
scoring, so every metric and slice gets its interval from the same draws.

The draws are kept (``Replicates``), not only their percentiles: they depend on nothing but
the seed and the sorted unit names, so two runs scored on the same items were resampled on the
same unit indices in every replicate. That is what lets ``harness.eval.noise`` pool seeds
(a two-stage bootstrap) and pair two encoders question by question without the predictions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Container
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.eval.scoring import Judged, Metric

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95

MetricKey = tuple[str, str]
"""(metric, subset)."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Bootstrap:
    """What the intervals were drawn with (stored with every score that has one)."""

    resamples: int = RESAMPLES
    seed: int = SEED


@dataclass(frozen=True)
class Replicates:
    """One benchmark pass's bootstrap draws: each metric's value in every resample."""

    units: str
    """Digest of the resampled units (strata and names): equal digests, equal draws."""
    settings: Bootstrap
    values: dict[MetricKey, np.ndarray]
    """(metric, subset) -> float32 array of ``settings.resamples`` values."""
    benchmark: str = ""
    """Whose metrics they are, once kept beside a predictions file."""

    def intervals(self) -> dict[MetricKey, Interval]:
        return {key: percentile_interval(drawn) for key, drawn in self.values.items()}

    def only(self, keep: Callable[[MetricKey], bool]) -> Replicates:
        return dataclasses.replace(self, values={k: v for k, v in self.values.items()
                                                 if keep(k)})


@dataclass(frozen=True)
class Draws:
    """One number's bootstrap distribution and the units it was drawn over (``Replicates``'
    digest): what pooled and paired intervals are made from (``harness.store.noise``)."""

    values: np.ndarray
    units: str

    def interval(self) -> Interval:
        return percentile_interval(self.values)


def within_noise(upper: Draws | None, lower: Draws | None) -> bool | None:
    """Whether the gap between two numbers' draws holds 0 in its 95% interval (paired when
    both were drawn over the same units); None where either has no draws."""
    if upper is None or lower is None or len(upper.values) != len(lower.values):
        return None
    gap = percentile_interval(upper.values - lower.values)
    return gap.low <= 0.0 <= gap.high


def percentile_interval(drawn: np.ndarray) -> Interval:
    """The 95% percentile interval of a bootstrap distribution."""
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(drawn, [tail, 100 - tail])
    return Interval(float(low), float(high))


def replicates(score: Callable[[list[Judged]], list[Metric]], judged: list[Judged],
               settings: Bootstrap = Bootstrap(), within: str = "",
               keep: Container[str] | None = None) -> Replicates | None:
    """Every metric's value in each resample (``keep`` limits the subsets kept); None with
    fewer than two units (no interval can be said, and none is made up). ``within`` names a
    field of ``Judged`` (``source``) to resample inside."""
    grouped: dict[str, dict[str, list[Judged]]] = defaultdict(lambda: defaultdict(list))
    for j in judged:
        grouped[getattr(j, within) if within else ""][j.group or j.idx].append(j)
    # Sorted, so the draws depend on which units there are, never on the file's order.
    strata = [(name, sorted(grouped[name].items())) for name in sorted(grouped)]
    if sum(len(units) for _, units in strata) < 2:
        return None
    rng = np.random.default_rng(settings.seed)
    copies: dict[tuple[str, int], list[Judged]] = {}

    def copy(unit: str, members: list[Judged], k: int) -> list[Judged]:
        # A unit drawn twice must count as two groups, not one group of twice the members.
        if k == 0:
            return members
        if (unit, k) not in copies:
            copies[(unit, k)] = [dataclasses.replace(j, group=f"{unit}#{k}") for j in members]
        return copies[(unit, k)]

    values: dict[MetricKey, list[float]] = defaultdict(list)
    for _ in range(settings.resamples):
        sample: list[Judged] = []
        for _name, units in strata:
            for index, times in Counter(rng.integers(0, len(units), len(units))).items():
                unit, members = units[index]
                for k in range(times):
                    sample.extend(copy(unit, members, k))
        for metric in score(sample):
            if keep is None or metric.subset in keep:
                values[(metric.name, metric.subset)].append(metric.value)
    return Replicates(
        units=_digest(strata), settings=settings,
        # A slice missing from some draws (too rare to be in all) gets none.
        values={key: np.asarray(drawn, dtype=np.float32) for key, drawn in values.items()
                if len(drawn) == settings.resamples})


def intervals(score: Callable[[list[Judged]], list[Metric]], judged: list[Judged],
              settings: Bootstrap = Bootstrap(), within: str = ""
              ) -> dict[MetricKey, Interval]:
    """(metric, subset) -> its 95% percentile interval; empty with fewer than two units."""
    drawn = replicates(score, judged, settings, within)
    return {} if drawn is None else drawn.intervals()


def _digest(strata: list[tuple[str, list[tuple[str, list[Judged]]]]]) -> str:
    digest = hashlib.sha256()
    for name, units in strata:
        digest.update(json.dumps([name, [unit for unit, _ in units]]).encode())
    return digest.hexdigest()[:16]


# -- the file beside a predictions file: ``<name>.replicates.npz`` ------------------------

def replicates_path(predictions_file: Path) -> Path:
    return Path(predictions_file).with_suffix(".replicates.npz")


def to_bytes(drawn: Replicates) -> bytes:
    """An ``.npz`` of plain arrays (names, a values matrix, the settings): read back with
    ``allow_pickle=False``, so a file from elsewhere can never run code."""
    keys = sorted(drawn.values)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, units=np.array(drawn.units), benchmark=np.array(drawn.benchmark),
        names=np.array([json.dumps(list(k)) for k in keys], dtype=str),
        values=np.stack([drawn.values[k] for k in keys]) if keys else np.zeros((0, 0)),
        settings=np.array([drawn.settings.resamples, drawn.settings.seed], dtype=np.int64))
    return buffer.getvalue()


def from_bytes(data: bytes) -> Replicates:
    """The draws ``to_bytes`` wrote; ValueError for anything else."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            resamples, seed = (int(v) for v in npz["settings"])
            names = [tuple(json.loads(str(n))) for n in npz["names"]]
            matrix = npz["values"].astype(np.float32)
            units, benchmark = str(npz["units"]), str(npz["benchmark"])
    except (OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a replicates file ({type(exc).__name__}: {exc})") from exc
    if len(names) != len(matrix) or (names and matrix.shape[1] != resamples):
        raise ValueError("replicates file: names, values and resamples disagree")
    return Replicates(units, Bootstrap(resamples, seed),
                      {(m, s): row for (m, s), row in zip(names, matrix, strict=True)},
                      benchmark=benchmark)
